"""Root fields by domain, each declared on its resolver with the role it requires
(schema/core/fields.py): thin functions that call src/ and map to schema types. schema/root.py
collects every declared field from this package."""
