"""PrestaShop Webservice client: ``from core.prestashop.client import PrestaShopClient``.

Modules: ``parse`` (XML/JSON bodies -> plain data, scalar converters), ``models``
(frozen dataclasses per resource), ``errors`` (typed ``ShopError`` hierarchy),
``client`` (the async httpx client).
"""
