"""Deployment specs: parsed from the CLI's forms, refused with a clear error when wrong."""

from __future__ import annotations

import pytest

from modelport.deployments.spec import (
    Arm,
    DeploymentSpec,
    Shadow,
    Sticky,
    parse_arm,
    parse_shadow,
    parse_sticky,
)
from modelport.errors import InvalidArgument, InvalidReference


def test_the_cli_forms_parse() -> None:
    spec = DeploymentSpec(
        "checkout",
        (parse_arm("credit-risk@production=90"), parse_arm("credit-risk:3=10")),
        parse_sticky("header:X-User-Id"),
        (parse_shadow("credit-risk:4=50"),),
    )
    assert spec.shares() == [0.9, 0.1]
    assert spec.refs() == ["credit-risk@production", "credit-risk:3", "credit-risk:4"]
    assert DeploymentSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["sticky"] == "header:X-User-Id"


@pytest.mark.parametrize(
    ("arms", "shadows", "message"),
    [
        ((), (), "has no arms"),
        ((Arm("m:1", 0), Arm("m:2", 0)), (), "add up to 0"),
        ((Arm("m:1", -1), Arm("m:2", 5)), (), "negative"),
        ((Arm("m:1", float("nan")),), (), "not a number"),
        ((Arm("m:1", 50), Arm("m:1", 50)), (), "two arms"),
        ((Arm("m:1", 100),), (Shadow("m:1", 50),), "both an arm and a shadow"),
        ((Arm("m:1", 100),), (Shadow("m:2", 0),), "not in (0, 100]"),
        ((Arm("m:1", 100),), (Shadow("m:2", 150),), "not in (0, 100]"),
        ((Arm("m:1", 100),), (Shadow("m:2", 10), Shadow("m:2", 20)), "two shadows"),
        ((Arm("bad name!", 100),), (), "arm 'bad name!'"),
    ],
)
def test_impossible_specs_are_refused_by_name(
    arms: tuple[Arm, ...], shadows: tuple[Shadow, ...], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        DeploymentSpec("d", arms, None, shadows)


@pytest.mark.parametrize("text", ["credit-risk", "credit-risk=", "=10", "m:1=ten"])
def test_arms_must_be_ref_equals_weight(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_arm(text)


@pytest.mark.parametrize("text", ["cookie:session", "header", "header:", "field:a b"])
def test_sticky_is_header_or_field_with_a_name(text: str) -> None:
    with pytest.raises(InvalidArgument):
        DeploymentSpec("d", (Arm("m:1", 1),), parse_sticky(text))


def test_the_deployment_name_is_a_model_name() -> None:
    with pytest.raises(InvalidReference):
        DeploymentSpec("bad name\n", (Arm("m:1", 1),))
    assert str(Sticky("field", "customer_id")) == "field:customer_id"
