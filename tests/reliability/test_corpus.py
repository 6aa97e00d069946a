"""The bad-input corpus is at least 200 cases, each with an id, in every category the issue names."""

from tests.reliability import (  # noqa: F401 - importing a module registers its cases
    test_bad_config_import,
    test_bad_definitions,
    test_bad_files,
    test_bad_requests,
    test_bad_source_pages,
    test_bad_webhooks,
)
from tests.reliability.corpus import REGISTRY, counts


def test_the_corpus_holds_at_least_200_bad_inputs(capsys):
    total = sum(counts().values())
    with capsys.disabled():
        print(f"\nbad-input corpus: {total} cases")
        for category, n in counts().items():
            print(f"  {n:4d}  {category}")
    assert total >= 200
    for category, ids in REGISTRY.items():
        assert len(ids) == len(set(ids)), f"{category}: an id is used twice"
    assert len(counts()) >= 15
