"""Helpers shared by the flavors."""

from __future__ import annotations

import gc

import pytest

from modelport.flavors._common import collector_paused


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_and_then_left_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(RuntimeError), collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("a failed load restores it too")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
