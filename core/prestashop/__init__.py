"""PrestaShop Webservice client: ``from core.prestashop.client import PrestaShopClient``.

Modules: ``parse`` (XML/JSON bodies -> plain data, scalar converters), ``models``
(frozen dataclasses per resource), ``errors`` (typed ``ShopError`` hierarchy),
``client`` (the async API: reads and writes), built on ``transport`` (requests within
the account's bounds, retries, waits) and ``diagnosis`` (answers and failures as clear
``ShopError``s, scrubbed of the key), ``limits`` (the account's bounds).
"""
