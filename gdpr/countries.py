"""EEA membership of hosting countries (ISO 3166-1 alpha-2) and the EU's adequacy decisions."""

EEA = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)
# Countries with an adequacy decision (Art. 45) as of 2026; US: the EU-US Data Privacy Framework
# covers certified companies only, so a US host still needs its safeguard checked.
ADEQUATE = frozenset(["AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "UY"])


def in_eea(country: str) -> bool:
    return (country or "").upper() in EEA


def adequate(country: str) -> bool:
    return (country or "").upper() in ADEQUATE
