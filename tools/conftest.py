"""pytest hooks for tools/: ``-k tools`` selects only the tools area of the contract test.

pytest matches ``-k`` against every parent's name, and the contract test lives in the
``tools`` folder, so ``-k tools`` alone would select every area's contract tests. With
exactly ``-k tools``, the parametrised contract tests of the problem folders are dropped.
"""


def pytest_collection_modifyitems(config, items):
    if (config.getoption("keyword") or "").strip() != "tools":
        return
    keep, drop = [], []
    for item in items:
        other_area = "test_contract.py::" in item.nodeid and "[" in item.nodeid
        if other_area and "[tools:" not in item.nodeid:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
