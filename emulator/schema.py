"""Resource definitions of the emulated PrestaShop Webservice.

Field order, kinds, xlinks, getters (``notFilterable``), required and read-only flags follow
docs/prestashop/PROTOCOL.md §7 and the recorded responses in tests/fixtures/prestashop/. Fields carry an
optional version window so that the same table serves 1.6, 1.7, 8 and 9.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Version = tuple[int, ...]

VERSIONS: dict[str, Version] = {
    "1.6": (1, 6, 1, 24),
    "1.7": (1, 7, 8, 11),
    "8": (8, 1, 7),
    "9": (9, 0, 1),
}

KIND_DEFAULTS: dict[str, str | None] = {
    "int": "0",
    "bool": "0",
    "dec": "0.000000",
    "dec2": "0.00",
    "dec3": "0.000",
    "str": "",
    "date": "0000-00-00 00:00:00",
    "day": "0000-00-00",
    "i18n": "",
}

NUMERIC_KINDS = frozenset({"int", "bool", "dec", "dec2", "dec3"})
DATE_KINDS = frozenset({"date", "day"})


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: str = "str"
    xlink: str | None = None
    required: bool = False
    getter: bool = False  # computed: rendered notFilterable="true", filtering -> 400/34
    readonly: bool = False  # setter false: sending it in a write -> 400/93
    since: Version | None = None
    until: Version | None = None  # exclusive
    default: str | None = "\x00"  # "\x00" = use the kind default
    fmt: str | None = None  # synopsis "format"
    native: bool = False  # computed PHP int: a JSON number even on classic setups

    @property
    def default_value(self) -> str | None:
        if self.default == "\x00":
            return KIND_DEFAULTS[self.kind]
        return self.default

    def active(self, version: Version) -> bool:
        if self.since is not None and version < self.since:
            return False
        return not (self.until is not None and version >= self.until)


@dataclass(frozen=True, slots=True)
class Assoc:
    name: str  # e.g. order_rows
    node: str  # e.g. order_row
    api: str | None  # e.g. categories (None = virtual entity)
    fields: tuple[Field, ...] = ()
    item_href: str | None = None  # "{api}/{id}" pattern for the item xlink; None: no link
    since: Version | None = None

    def active(self, version: Version) -> bool:
        return self.since is None or version >= self.since


@dataclass(slots=True)
class Resource:
    name: str  # plural, url segment
    node: str  # singular element name
    fields: list[Field] = field(default_factory=list)
    assocs: list[Assoc] = field(default_factory=list)
    description: str = ""
    forbidden: frozenset[str] = frozenset()
    list_node: str | None = None  # list element name when != name (1.6 order_discounts)

    _cache: dict = field(default_factory=dict, repr=False)

    def fields_for(self, version: Version) -> list[Field]:
        key = ("f", version, len(self.fields))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = [f for f in self.fields if f.active(version)]
        return hit

    def assocs_for(self, version: Version) -> list[Assoc]:
        key = ("a", version, len(self.assocs))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = [a for a in self.assocs if a.active(version)]
        return hit

    def plan(self, version: Version) -> list[tuple[str, Any, bool, bool]]:
        """(name, default, is_i18n) per active field, for fast rendering."""
        key = ("p", version, len(self.fields))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = [(f.name, f.default_value, f.kind == "i18n", f.native)
                                      for f in self.fields_for(version)]
        return hit


V17 = (1, 7, 0)
V177 = (1, 7, 7)
V176 = (1, 7, 6)
V178 = (1, 7, 8)
V8 = (8, 0, 0)


def F(name: str, kind: str = "str", x: str | None = None, **kw: Any) -> Field:  # noqa: N802
    return Field(name, kind, x, **kw)


def _p(*names: str, kind: str = "dec") -> list[Field]:
    return [Field(n, kind, fmt="isPrice") for n in names]


ORDER_FIELDS = [
    F("id_address_delivery", "int", "addresses", required=True, fmt="isUnsignedId"),
    F("id_address_invoice", "int", "addresses", required=True, fmt="isUnsignedId"),
    F("id_cart", "int", "carts", required=True, fmt="isUnsignedId"),
    F("id_currency", "int", "currencies", required=True, fmt="isUnsignedId"),
    F("id_lang", "int", "languages", required=True, fmt="isUnsignedId"),
    F("id_customer", "int", "customers", required=True, fmt="isUnsignedId"),
    F("id_carrier", "int", "carriers", required=True, fmt="isUnsignedId"),
    F("current_state", "int", "order_states", fmt="isUnsignedId"),
    F("module", required=True, fmt="isModuleName"),
    F("invoice_number", "int"),
    F("invoice_date", "date"),
    F("delivery_number", "int"),
    F("delivery_date", "date"),
    F("valid", "bool"),
    F("date_add", "date", fmt="isDate"),
    F("date_upd", "date", fmt="isDate"),
    F("shipping_number", getter=True, fmt="isTrackingNumber"),
    F("note", since=V177, fmt="isCleanHtml"),
    F("id_shop_group", "int", fmt="isUnsignedId"),
    F("id_shop", "int", fmt="isUnsignedId"),
    F("secure_key", fmt="isMd5"),
    F("payment", required=True, fmt="isGenericName"),
    F("recyclable", "bool", fmt="isBool"),
    F("gift", "bool", fmt="isBool"),
    F("gift_message", fmt="isMessage"),
    F("mobile_theme", "bool", fmt="isBool"),
    *_p("total_discounts", "total_discounts_tax_incl", "total_discounts_tax_excl"),
    F("total_paid", "dec", required=True, fmt="isPrice"),
    *_p("total_paid_tax_incl", "total_paid_tax_excl"),
    F("total_paid_real", "dec", required=True, fmt="isPrice"),
    F("total_products", "dec", required=True, fmt="isPrice"),
    F("total_products_wt", "dec", required=True, fmt="isPrice"),
    *_p("total_shipping", "total_shipping_tax_incl", "total_shipping_tax_excl"),
    F("carrier_tax_rate", "dec3", fmt="isFloat"),
    *_p("total_wrapping", "total_wrapping_tax_incl", "total_wrapping_tax_excl"),
    F("round_mode", "int", fmt="isUnsignedId"),
    F("round_type", "int", fmt="isUnsignedId"),
    F("conversion_rate", "dec", required=True, fmt="isFloat"),
    F("reference"),
]

ORDER_ROW_FIELDS = (
    F("id", "int"),
    F("product_id", "int", required=True),
    F("product_attribute_id", "int", required=True),
    F("product_quantity", "int", required=True),
    F("product_name", readonly=True),
    F("product_reference", readonly=True),
    F("product_ean13", readonly=True),
    F("product_isbn", readonly=True, since=V17),
    F("product_upc", readonly=True),
    F("product_price", "dec", readonly=True),
    F("id_customization", "int", readonly=True, since=V17),
    F("unit_price_tax_incl", "dec", readonly=True),
    F("unit_price_tax_excl", "dec", readonly=True),
)

ORDER_DETAIL_FIELDS = [
    F("id_order", "int", "orders", required=True),
    F("product_id", "int", "products"),
    F("product_attribute_id", "int", "combinations"),
    F("product_quantity_reinjected", "int"),
    F("group_reduction", "dec2"),
    F("discount_quantity_applied", "int"),
    F("download_hash"),
    F("download_deadline", "date"),
    F("id_order_invoice", "int"),
    F("id_warehouse", "int", required=True),
    F("id_shop", "int", required=True, default="1"),
    F("id_customization", "int", since=V17),
    F("product_name", required=True),
    F("product_quantity", "int", required=True),
    F("product_quantity_in_stock", "int"),
    F("product_quantity_return", "int"),
    F("product_quantity_refunded", "int"),
    F("product_price", "dec", required=True),
    F("reduction_percent", "dec2"),
    F("reduction_amount", "dec"),
    F("reduction_amount_tax_incl", "dec"),
    F("reduction_amount_tax_excl", "dec"),
    F("product_quantity_discount", "dec"),
    F("product_ean13"),
    F("product_isbn", since=V17),
    F("product_upc"),
    F("product_mpn", since=V177),
    F("product_reference"),
    F("product_supplier_reference"),
    F("product_weight", "dec"),
    F("tax_computation_method", "int"),
    F("id_tax_rules_group", "int"),
    F("ecotax", "dec"),
    F("ecotax_tax_rate", "dec3"),
    F("download_nb", "int"),
    F("unit_price_tax_incl", "dec"),
    F("unit_price_tax_excl", "dec"),
    F("total_price_tax_incl", "dec"),
    F("total_price_tax_excl", "dec"),
    F("total_shipping_price_tax_excl", "dec"),
    F("total_shipping_price_tax_incl", "dec"),
    F("purchase_supplier_price", "dec"),
    F("original_product_price", "dec"),
    F("original_wholesale_price", "dec"),
    F("total_refunded_tax_excl", "dec", since=V17),
    F("total_refunded_tax_incl", "dec", since=V17),
]

ORDER_HISTORY_FIELDS = [
    F("id_employee", "int", "employees", fmt="isUnsignedId"),
    F("id_order_state", "int", "order_states", required=True, fmt="isUnsignedId"),
    F("id_order", "int", "orders", required=True, fmt="isUnsignedId"),
    F("date_add", "date", fmt="isDate"),
]

ORDER_STATE_FIELDS = [
    F("unremovable", "bool"),
    F("delivery", "bool"),
    F("hidden", "bool"),
    F("send_email", "bool"),
    F("module_name"),
    F("invoice", "bool"),
    F("color"),
    F("logable", "bool"),
    F("shipped", "bool"),
    F("paid", "bool"),
    F("pdf_delivery", "bool"),
    F("pdf_invoice", "bool"),
    F("deleted", "bool"),
    F("name", "i18n", required=True),
    F("template", "i18n"),
]

CUSTOMER_FIELDS = [
    F("id_default_group", "int", "groups", default="3"),
    F("id_lang", "int", "languages", default="1"),
    F("newsletter_date_add", "date"),
    F("ip_registration_newsletter"),
    F("last_passwd_gen", "date"),
    F("secure_key"),
    F("deleted", "bool"),
    F("passwd", required=True),
    F("lastname", required=True),
    F("firstname", required=True),
    F("email", required=True),
    F("id_gender", "int"),
    F("birthday", "day"),
    F("newsletter", "bool"),
    F("optin", "bool"),
    F("website"),
    F("company"),
    F("siret"),
    F("ape"),
    F("outstanding_allow_amount", "dec"),
    F("show_public_prices", "bool"),
    F("id_risk", "int"),
    F("max_payment_days", "int"),
    F("active", "bool", default="1"),
    F("note"),
    F("is_guest", "bool"),
    F("id_shop", "int", default="1"),
    F("id_shop_group", "int", default="1"),
    F("date_add", "date"),
    F("date_upd", "date"),
    F("reset_password_token", since=V17),
    F("reset_password_validity", "date", since=V17, default=None),
]

ADDRESS_FIELDS = [
    F("id_customer", "int", "customers"),
    F("id_manufacturer", "int", "manufacturers"),
    F("id_supplier", "int", "suppliers"),
    F("id_warehouse", "int", "warehouses"),
    F("id_country", "int", "countries", required=True),
    F("id_state", "int", "states"),
    F("alias", required=True),
    F("company"),
    F("lastname", required=True),
    F("firstname", required=True),
    F("vat_number"),
    F("address1", required=True),
    F("address2"),
    F("postcode"),
    F("city", required=True),
    F("other"),
    F("phone"),
    F("phone_mobile"),
    F("dni"),
    F("deleted", "bool"),
    F("date_add", "date"),
    F("date_upd", "date"),
]

PRODUCT_FIELDS = [
    F("id_manufacturer", "int", "manufacturers"),
    F("id_supplier", "int", "suppliers"),
    F("id_category_default", "int", "categories"),
    F("new", "bool", default=None),
    F("cache_default_attribute", "int"),
    F("id_default_image", "int", "images", getter=True),
    F("id_default_combination", "int", "combinations", getter=True),
    F("id_tax_rules_group", "int", "tax_rule_groups"),
    F("position_in_category", "int", getter=True),
    F("manufacturer_name", getter=True, readonly=True),
    F("quantity", "int", getter=True, readonly=True),
    F("type", getter=True, default="simple"),
    F("id_shop_default", "int", default="1"),
    F("reference"),
    F("supplier_reference"),
    F("location"),
    F("width", "dec"),
    F("height", "dec"),
    F("depth", "dec"),
    F("weight", "dec"),
    F("quantity_discount", "bool"),
    F("ean13"),
    F("isbn", since=V17),
    F("upc"),
    F("mpn", since=V177),
    F("cache_is_pack", "bool"),
    F("cache_has_attachments", "bool"),
    F("is_virtual", "bool"),
    F("state", "int", since=V178, default="1"),
    F("additional_delivery_times", "int", since=V17, default="1"),
    F("delivery_in_stock", "i18n", since=V17),
    F("delivery_out_stock", "i18n", since=V17),
    F("product_type", since=V8, default="standard"),
    F("on_sale", "bool"),
    F("online_only", "bool"),
    F("ecotax", "dec"),
    F("minimal_quantity", "int", default="1"),
    F("low_stock_threshold", "int", since=V17, default=None),
    F("low_stock_alert", "bool", since=V17),
    F("price", "dec", required=True),
    F("wholesale_price", "dec"),
    F("unity"),
    F("unit_price", "dec", since=V8),
    F("unit_price_ratio", "dec"),
    F("additional_shipping_cost", "dec2"),
    F("customizable", "int"),
    F("text_fields", "int"),
    F("uploadable_files", "int"),
    F("active", "bool", default="1"),
    F("redirect_type", default="404"),
    F("id_product_redirected", "int", until=V17),
    F("id_type_redirected", "int", since=V17),
    F("available_for_order", "bool", default="1"),
    F("available_date", "day"),
    F("show_condition", "bool", since=V17),
    F("condition", default="new"),
    F("show_price", "bool", default="1"),
    F("indexed", "bool", default="1"),
    F("visibility", default="both"),
    F("advanced_stock_management", "bool"),
    F("date_add", "date"),
    F("date_upd", "date"),
    F("pack_stock_type", "int", default="3"),
    F("meta_description", "i18n"),
    F("meta_keywords", "i18n"),
    F("meta_title", "i18n"),
    F("link_rewrite", "i18n", required=True),
    F("name", "i18n", required=True),
    F("description", "i18n"),
    F("description_short", "i18n"),
    F("available_now", "i18n"),
    F("available_later", "i18n"),
]

_ID = (F("id", "int"),)

PRODUCT_ASSOCS = [
    Assoc("categories", "category", "categories", _ID, "categories/{id}"),
    Assoc("images", "image", "images", _ID, "images/products/{owner}/{id}"),
    Assoc("combinations", "combination", "combinations", _ID, "combinations/{id}"),
    Assoc("product_option_values", "product_option_value", "product_option_values", _ID,
          "product_option_values/{id}"),
    Assoc("product_features", "product_feature", "product_features",
          (F("id", "int"), F("id_feature_value", "int", "product_feature_values")),
          "product_features/{id}"),
    Assoc("tags", "tag", "tags", _ID, "tags/{id}"),
    Assoc("stock_availables", "stock_available", "stock_availables",
          (F("id", "int"), F("id_product_attribute", "int")), "stock_availables/{id}"),
    Assoc("attachments", "attachment", "attachments", _ID, "attachments/{id}", since=V17),
    Assoc("accessories", "product", "products", _ID, "products/{id}"),
    Assoc("product_bundle", "product", "products",
          (F("id", "int"), F("id_product_attribute", "int"), F("quantity", "int")),
          "products/{id}"),
]

COMBINATION_FIELDS = [
    F("id_product", "int", "products", required=True),
    F("location"),
    F("ean13"),
    F("isbn", since=V17),
    F("upc"),
    F("mpn", since=V177),
    F("quantity", "int"),
    F("reference"),
    F("supplier_reference"),
    F("wholesale_price", "dec"),
    F("price", "dec"),
    F("ecotax", "dec"),
    F("weight", "dec"),
    F("unit_price_impact", "dec"),
    F("minimal_quantity", "int", required=True, default="1"),
    F("low_stock_threshold", "int", since=V17, default=None),
    F("low_stock_alert", "bool", since=V17),
    F("default_on", "bool", default=None),
    F("available_date", "day"),
]

STOCK_FIELDS = [
    F("id_product", "int", "products", required=True),
    F("id_product_attribute", "int", required=True),
    F("id_shop", "int", "shops", default="1"),
    F("id_shop_group", "int", "shop_groups"),
    F("quantity", "int", required=True),
    F("depends_on_stock", "bool", required=True),
    F("out_of_stock", "int", required=True, default="2"),
    F("location", since=V8),
]

CURRENCY_FIELDS = [
    F("names", "i18n", since=V176, getter=True),
    F("name", required=True),
    F("symbol", "i18n", since=V176, getter=True),
    F("iso_code", required=True),
    F("iso_code_num", until=V176, default="0"),
    F("numeric_iso_code", since=V176, default="0"),
    F("precision", "int", since=V176, default="2"),
    F("blank", "bool", until=V176),
    F("sign", until=V176),
    F("format", "int", until=V176, default="1"),
    F("decimals", "bool", until=V176, default="1"),
    F("conversion_rate", "dec", required=True, default="1.000000"),
    F("deleted", "bool"),
    F("active", "bool", default="1"),
    F("unofficial", "bool", since=V176),
    F("modified", "bool", since=V176),
    F("pattern", "i18n", since=V176),
]

COUNTRY_FIELDS = [
    F("id_zone", "int", "zones", required=True),
    F("id_currency", "int"),
    F("call_prefix", "int"),
    F("iso_code", required=True),
    F("active", "bool", default="1"),
    F("contains_states", "bool", required=True),
    F("need_identification_number", "bool", required=True),
    F("need_zip_code", "bool", default="1"),
    F("zip_code_format"),
    F("display_tax_label", "bool", required=True),
    F("name", "i18n", required=True),
]

CARRIER_FIELDS = [
    F("deleted", "bool"),
    F("is_module", "bool"),
    F("id_tax_rules_group", "int", "tax_rule_groups", getter=True),
    F("id_reference", "int"),
    F("name", required=True),
    F("active", "bool", required=True, default="1"),
    F("is_free", "bool"),
    F("url"),
    F("shipping_handling", "bool"),
    F("shipping_external", "bool"),
    F("range_behavior", "bool"),
    F("shipping_method", "int", default="1", native=True),
    F("max_width", "int"),
    F("max_height", "int"),
    F("max_depth", "int"),
    F("max_weight", "dec"),
    F("grade", "int"),
    F("external_module_name"),
    F("need_range", "bool"),
    F("position", "int"),
    F("delay", "i18n", required=True),
]

LANGUAGE_FIELDS = [
    F("name", required=True),
    F("iso_code", required=True),
    F("locale", since=V17),
    F("language_code"),
    F("active", "bool", default="1"),
    F("is_rtl", "bool"),
    F("date_format_lite", default="Y-m-d"),
    F("date_format_full", default="Y-m-d H:i:s"),
]

# PrestaShop's Shop and ShopGroup (classes/shop/Shop.php, ShopGroup.php): docs/prestashop/PROTOCOL.md §5.5
SHOP_FIELDS = [
    F("id_shop_group", "int", "shop_groups", required=True),
    F("id_category", "int", "categories", required=True),
    F("id_theme", "int", until=V17),
    F("theme_name", since=V17),
    F("name", required=True),
    F("active", "bool", default="1"),
    F("deleted", "bool"),
]

SHOP_GROUP_FIELDS = [
    F("name", required=True),
    F("share_customer", "bool"),
    F("share_order", "bool"),
    F("share_stock", "bool"),
    F("active", "bool", default="1"),
    F("deleted", "bool"),
]

ORDER_CARRIER_FIELDS = [
    F("id_order", "int", "orders", required=True),
    F("id_carrier", "int", "carriers", required=True),
    F("id_order_invoice", "int", "order_invoices"),
    F("weight", "dec"),
    F("shipping_cost_tax_excl", "dec"),
    F("shipping_cost_tax_incl", "dec"),
    F("tracking_number"),
    F("date_add", "date"),
]

# PrestaShop's Tax: rate DECIMAL(10,3), multilanguage name (<= 32)
TAX_FIELDS = [
    F("rate", "dec3", required=True, fmt="isFloat"),
    F("active", "bool", default="1", fmt="isBool"),
    F("deleted", "bool", fmt="isBool"),
    F("name", "i18n", required=True, fmt="isGenericName"),
]

# PrestaShop's TaxRulesGroup (1.6.1.0+: deleted, date_add, date_upd)
TAX_RULES_GROUP_FIELDS = [
    F("name", required=True, fmt="isGenericName"),
    F("active", "bool", default="1", fmt="isBool"),
    F("deleted", "bool", fmt="isBool"),
    F("date_add", "date", fmt="isDate"),
    F("date_upd", "date", fmt="isDate"),
]

# PrestaShop's TaxRule: the webservice fields (with xlinks) first, then the rest of the definition
TAX_RULE_FIELDS = [
    F("id_tax_rules_group", "int", "tax_rule_groups", required=True, fmt="isUnsignedId"),
    F("id_state", "int", "states", fmt="isUnsignedId"),
    F("id_country", "int", "countries", required=True, fmt="isUnsignedId"),
    F("zipcode_from", fmt="isPostCode"),
    F("zipcode_to", fmt="isPostCode"),
    F("id_tax", "int", required=True, fmt="isUnsignedId"),
    F("behavior", "int", fmt="isUnsignedInt"),
    F("description", fmt="isString"),
]

# PrestaShop's State: name is a plain string (not multilanguage)
STATE_FIELDS = [
    F("id_zone", "int", "zones", required=True, fmt="isUnsignedId"),
    F("id_country", "int", "countries", required=True, fmt="isUnsignedId"),
    F("iso_code", required=True, fmt="isStateIsoCode"),
    F("name", required=True, fmt="isGenericName"),
    F("active", "bool", default="1", fmt="isBool"),
]

# PrestaShop's CustomerThread: xlinked webservice fields first, then id_contact, email, token, status, dates
CUSTOMER_THREAD_FIELDS = [
    F("id_lang", "int", "languages", required=True, fmt="isUnsignedId"),
    F("id_shop", "int", "shops", fmt="isUnsignedId"),
    F("id_customer", "int", "customers", fmt="isUnsignedId"),
    F("id_order", "int", "orders", fmt="isUnsignedId"),
    F("id_product", "int", "products", fmt="isUnsignedId"),
    F("id_contact", "int", required=True, fmt="isUnsignedId"),
    F("email", fmt="isEmail"),
    F("token", required=True, fmt="isGenericName"),
    F("status"),
    F("date_add", "date", fmt="isDate"),
    F("date_upd", "date", fmt="isDate"),
]

# PrestaShop's CustomerMessage (ip_address holds ip2long() of the sender, as digits)
CUSTOMER_MESSAGE_FIELDS = [
    F("id_employee", "int", "employees", fmt="isUnsignedId"),
    F("id_customer_thread", "int", "customer_threads"),
    F("ip_address", fmt="isIp2Long"),
    F("message", required=True, fmt="isCleanHtml"),
    F("file_name"),
    F("user_agent"),
    F("private", "int"),
    F("date_add", "date", fmt="isDate"),
    F("date_upd", "date", fmt="isDate"),
    F("read", "bool", fmt="isBool"),
]

# PrestaShop's OrderCartRule: one row per cart rule of an order; value (tax incl.) and
# value_tax_excl are DECIMAL(17,2). 1.6 serves it as order_discounts, 1.7+ as order_cart_rules.
ORDER_CART_RULE_FIELDS = [
    F("id_order", "int", "orders", required=True, fmt="isUnsignedId"),
    F("id_cart_rule", "int", required=True, fmt="isUnsignedId"),
    F("id_order_invoice", "int", fmt="isUnsignedId"),
    F("name", required=True, fmt="isCleanHtml"),
    F("value", "dec2", required=True, fmt="isFloat"),
    F("value_tax_excl", "dec2", required=True, fmt="isFloat"),
    F("free_shipping", "bool", fmt="isBool"),
    F("deleted", "bool", since=V8, fmt="isBool"),
]

# PrestaShop's OrderSlip (a refund or return, docs/prestashop/PROTOCOL.md §1): the slip's totals and
# its order_slip_details, a virtual association served by getWsOrderSlipDetails(), whose "id" is
# the slip's own id (id_order_slip AS id); the list node is <order_slips> (objectsNodeName).
ORDER_SLIP_FIELDS = [
    F("id_customer", "int", "customers", required=True, fmt="isUnsignedId"),
    F("id_order", "int", "orders", required=True, fmt="isUnsignedId"),
    F("conversion_rate", "dec", required=True, fmt="isFloat"),
    F("total_products_tax_excl", "dec", required=True, fmt="isFloat"),
    F("total_products_tax_incl", "dec", required=True, fmt="isFloat"),
    F("total_shipping_tax_excl", "dec", required=True, fmt="isFloat"),
    F("total_shipping_tax_incl", "dec", required=True, fmt="isFloat"),
    F("amount", "dec", fmt="isFloat"),
    F("shipping_cost", "int"),
    F("shipping_cost_amount", "dec", fmt="isFloat"),
    F("partial", "int"),
    F("date_add", "date", fmt="isDate"),
    F("date_upd", "date", fmt="isDate"),
    F("order_slip_type", "int", fmt="isInt"),
]
ORDER_SLIP_DETAIL_FIELDS = (
    F("id", "int"),
    F("id_order_detail", "int", required=True),
    F("product_quantity", "int", required=True),
    F("amount_tax_excl", "dec", required=True),
    F("amount_tax_incl", "dec", required=True),
)

# name -> (description, node) for the 1.6.1.x resource list (root_xml sample)
RESOURCE_LIST_16: dict[str, str] = {
    "addresses": "The Customer, Manufacturer and Customer addresses",
    "carriers": "The Carriers",
    "cart_rules": "Cart rules management",
    "carts": "Customer's carts",
    "categories": "The product categories",
    "combinations": "The product combinations",
    "configurations": "Shop configuration",
    "contacts": "Shop contacts",
    "content_management_system": "Content management system",
    "countries": "The countries",
    "currencies": "The currencies",
    "customer_messages": "Customer services messages",
    "customer_threads": "Customer services threads",
    "customers": "The e-shop's customers",
    "customizations": "Customization values",
    "deliveries": "Product delivery",
    "employees": "The Employees",
    "groups": "The customer's groups",
    "guests": "The guests",
    "image_types": "The image types",
    "images": "The images",
    "languages": "Shop languages",
    "manufacturers": "The product manufacturers",
    "order_carriers": "The Order carriers",
    "order_details": "Details of an order",
    "order_discounts": "Discounts of an order",
    "order_histories": "The Order histories",
    "order_invoices": "The Order invoices",
    "order_payments": "The Order payments",
    "order_slip": "The Order slips",
    "order_states": "The Order statuses",
    "orders": "The Customers orders",
    "price_ranges": "Price ranges",
    "product_customization_fields": "Customization Field",
    "product_feature_values": "The product feature values",
    "product_features": "The product features",
    "product_option_values": "The product options value",
    "product_options": "The product options",
    "product_suppliers": "Product Suppliers",
    "products": "The products",
    "search": "Search",
    "shop_groups": "Shop groups from multi-shop feature",
    "shop_urls": "Shop URLs from multi-shop feature",
    "shops": "Shops from multi-shop feature",
    "specific_price_rules": "Specific price management",
    "specific_prices": "Specific price management",
    "states": "The available states of countries",
    "stock_availables": "Available quantities",
    "stock_movement_reasons": "Stock movement reason",
    "stock_movements": "Stock movements",
    "stocks": "Stocks",
    "stores": "The stores",
    "suppliers": "The product suppliers",
    "supply_order_details": "Supply Order Details",
    "supply_order_histories": "Supply Order Histories",
    "supply_order_receipt_histories": "Supply Order Receipt Histories",
    "supply_order_states": "Supply Order Statuses",
    "supply_orders": "Supply Orders",
    "tags": "The Products tags",
    "tax_rule_groups": "Tax rule groups",
    "tax_rules": "Tax rules entity",
    "taxes": "The tax rate",
    "translated_configurations": "Shop configuration",
    "warehouse_product_locations": "Location of products in warehouses",
    "warehouses": "Warehouses",
    "weight_ranges": "Weight ranges",
    "zones": "The Countries zones",
}

_IRREGULAR = {
    "addresses": "address",
    "order_histories": "order_history",
    "currencies": "currency",
    "countries": "country",
    "categories": "category",
    "taxes": "tax",
    "search": "search",
    "content_management_system": "content",
    "order_slip": "order_slip",
    "order_discounts": "order_cart_rule",
    "order_cart_rules": "order_cart_rule",
    "supply_order_histories": "supply_order_history",
    "supply_order_receipt_histories": "supply_order_receipt_history",
    "deliveries": "delivery",
    "configurations": "configuration",
    "translated_configurations": "configuration",
    "stock_movements": "stock_mvt",
    "stock_movement_reasons": "stock_movement_reason",
    "images": "image",
}

READ_ONLY_RESOURCES = frozenset(
    {"search", "stock_movements", "stocks", "supply_order_details", "supply_order_histories",
     "supply_order_receipt_histories", "supply_order_states", "supply_orders",
     "warehouse_product_locations"}
)


def _singular(name: str) -> str:
    if name in _IRREGULAR:
        return _IRREGULAR[name]
    return name[:-1] if name.endswith("s") else name


def build_resources(version: Version) -> dict[str, Resource]:
    names = dict(RESOURCE_LIST_16)
    if version >= V17:
        names.pop("order_discounts", None)
        names["order_cart_rules"] = "The Order cart rules"
        names["attachments"] = "The product attachments"
        names["product_customization_fields"] = "Customization Field"
    if version >= V8:
        names["customizations"] = "Customization values"
    res: dict[str, Resource] = {}
    for name in sorted(names):
        forbidden: frozenset[str] = frozenset()
        if name == "stock_availables":
            forbidden = frozenset({"POST", "DELETE"})
        elif name in READ_ONLY_RESOURCES:
            forbidden = frozenset({"POST", "PUT", "PATCH", "DELETE"})
        elif name == "warehouses":
            forbidden = frozenset({"DELETE"})
        res[name] = Resource(name, _singular(name), description=names[name], forbidden=forbidden)
    if "order_discounts" in res:
        res["order_discounts"].list_node = "order_cart_rules"

    def setf(name: str, fields: list[Field], assocs: list[Assoc] | None = None) -> None:
        r = res[name]
        r.fields = [F("id", "int"), *fields]
        r.assocs = assocs or []

    setf("orders", ORDER_FIELDS, [Assoc("order_rows", "order_row", None, ORDER_ROW_FIELDS)])
    setf("order_details", ORDER_DETAIL_FIELDS, [Assoc("taxes", "tax", "taxes", _ID, "taxes/{id}")])
    setf("order_histories", ORDER_HISTORY_FIELDS)
    setf("order_states", ORDER_STATE_FIELDS)
    setf("customers", CUSTOMER_FIELDS, [Assoc("groups", "group", "groups", _ID, "groups/{id}")])
    setf("addresses", ADDRESS_FIELDS)
    setf("products", PRODUCT_FIELDS, PRODUCT_ASSOCS)
    setf(
        "combinations",
        COMBINATION_FIELDS,
        [
            Assoc("product_option_values", "product_option_value", "product_option_values", _ID,
                  "product_option_values/{id}"),
            Assoc("images", "image", "images/products", _ID, "images/products/{owner}/{id}"),
        ],
    )
    setf("stock_availables", STOCK_FIELDS)
    setf("currencies", CURRENCY_FIELDS)
    setf("countries", COUNTRY_FIELDS)
    setf("carriers", CARRIER_FIELDS)
    setf("languages", LANGUAGE_FIELDS)
    setf("shops", SHOP_FIELDS)
    setf("shop_groups", SHOP_GROUP_FIELDS)
    setf("order_carriers", ORDER_CARRIER_FIELDS)
    for name in ("order_discounts", "order_cart_rules"):
        if name in res:
            setf(name, ORDER_CART_RULE_FIELDS)
    setf("taxes", TAX_FIELDS)
    setf("tax_rule_groups", TAX_RULES_GROUP_FIELDS)
    setf("tax_rules", TAX_RULE_FIELDS)
    setf("states", STATE_FIELDS)
    setf("customer_threads", CUSTOMER_THREAD_FIELDS,
         [Assoc("customer_messages", "customer_message", "customer_messages", _ID, "customer_messages/{id}")])
    setf("customer_messages", CUSTOMER_MESSAGE_FIELDS)
    setf("order_slip", ORDER_SLIP_FIELDS,
         [Assoc("order_slip_details", "order_slip_detail", None, ORDER_SLIP_DETAIL_FIELDS)])
    res["order_slip"].list_node = "order_slips"
    for r in res.values():
        if not r.fields:
            r.fields = [F("id", "int")]
    return res


def parse_version(v: str) -> tuple[str, Version]:
    """'1.6' | '1.7' | '8' | '9' | a full version such as '1.6.1.24' -> (display string, tuple)."""
    v = str(v).strip()
    if v in VERSIONS:
        t = VERSIONS[v]
    else:
        try:
            t = tuple(int(p) for p in v.split("."))
        except ValueError as exc:
            raise ValueError(f"unknown PrestaShop version {v!r}") from exc
    return ".".join(str(p) for p in t), t
