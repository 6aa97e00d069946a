"""One module per vendor preset, each registering its ``VendorCase`` (imported by
``tests.contract.vendors.cases()``)."""
