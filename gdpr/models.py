# The register of processing and data-subject requests arrive with the GDPR issue.
