"""The ERP side: the ``ErpConnector`` port (port.py), shared input checks
(validate.py) and the embedded SQLite ERP (embedded.py, schema in
embedded_schema.py). A real ERP (Tryton) plugs in by implementing the port."""
