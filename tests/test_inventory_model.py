"""The intent's runtime types (op25b_cfg/inventory_model.py, plain dataclasses) against their validating models
(op25b_cfg/inventory_schema.py, pydantic): same fields, same validation and errors when built from raw values,
same dumps, and a loaded inventory holds runtime objects only."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from op25b_cfg import inventory_model as rt
from op25b_cfg import inventory_schema as schema
from op25b_cfg.inventory import load_inventory

SAMPLE = Path(__file__).resolve().parent.parent / "inventory"

VALID: list[tuple[str, dict[str, Any]]] = [
    ("Pool", {"name": "pppoe-east", "ipv4": ["100.64.0.0/16"], "ipv6": ["2001:db8:100::/40"]}),
    ("FamilyPrefixes", {"ipv4": ["192.0.2.25"]}),
    ("StaticExemption", {"name": "cust-1", "prefix": "100.64.1.0/29", "groups": ["tokyo"]}),
    ("OptOut", {"subscriber": "c1", "prefix": "2001:db8:100::/56", "devices": ["bras1"]}),
    ("Exemptions", {"opt_out": [{"subscriber": "c1", "prefix": "100.64.0.7"}]}),
    ("FlowControl", {"max_sessions": None, "burst": 9, "connect_delay_s": 3}),
    ("Attachment", {"kind": "dynamic-template", "name": "DT1", "template_type": "ppp"}),
    ("PluginOptions", {"port": 830, "extras": {"optional_args": {"transport": "https"}}}),
    (
        "Policy",
        {
            "name": "op25b",
            "pools": [{"name": "p", "ipv4": ["100.64.0.0/10"]}],
            "must_pass_source_ports": "1024-65535",
            "mtas": {"ipv4": ["192.0.2.25"]},
            "flow_control": {"burst": 7},
        },
    ),
]

INVALID: list[tuple[str, dict[str, Any]]] = [
    ("Pool", {"name": "x\nno ip access-list", "ipv4": ["100.64.0.0/16"]}),
    ("Pool", {"name": "p", "ipv4": ["2001:db8::/32"]}),
    ("Pool", {"name": "p", "ipv4": ["100.64.0.1/16"], "colour": "red"}),
    ("StaticExemption", {"name": "s", "prefix": 7}),
    ("FlowControl", {"connect_delay_s": 64}),
    ("FlowControl", {"max_sessions": 0, "burst": "many"}),
    ("Attachment", {"kind": "bogus", "name": "eth0"}),
    ("Attachment", {"kind": "unit", "name": "ge-0/0/1.100", "direction": "sideways"}),
    ("PluginOptions", {"port": 70000}),
    ("Policy", {"name": "op25b", "pools": []}),
    ("Policy", {"name": "op25b", "pools": [{"name": "p"}], "must_pass_source_ports": "0-10"}),
]


def test_runtime_types_have_the_models_fields() -> None:
    assert set(schema.MODELS) == {c.__name__ for c in vars(rt).values() if isinstance(c, type) and c in _RECORDS}
    for name, model in schema.MODELS.items():
        assert getattr(rt, name).field_names() == tuple(model.model_fields), name


_RECORDS = {
    rt.FamilyPrefixes,
    rt.Pool,
    rt.StaticExemption,
    rt.OptOut,
    rt.Exemptions,
    rt.FlowControl,
    rt.Policy,
    rt.Attachment,
    rt.PluginOptions,
}


@pytest.mark.parametrize(("name", "raw"), VALID, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VALID)])
def test_built_from_raw_values_as_validated(name: str, raw: dict[str, Any]) -> None:
    model = schema.MODELS[name](**raw)
    built = getattr(rt, name)(**raw)
    assert type(built) is getattr(rt, name)
    assert built == rt.from_model(model) == getattr(rt, name).model_validate(raw)
    assert built.model_dump() == model.model_dump()
    assert built.model_dump(mode="json", exclude_none=True) == model.model_dump(mode="json", exclude_none=True)
    assert repr(built) == repr(model)
    assert pickle.loads(pickle.dumps(built)) == built
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, built.field_names()[0], None)
    # a runtime object given back as a value validates again (dataclasses.replace does that)
    assert dataclasses.replace(built) == built


@pytest.mark.parametrize(("name", "raw"), INVALID, ids=[f"{n}-{i}" for i, (n, _) in enumerate(INVALID)])
def test_invalid_raw_values_fail_with_the_models_errors(name: str, raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as expected:
        schema.MODELS[name](**raw)
    with pytest.raises(ValidationError) as got:
        getattr(rt, name)(**raw)
    with pytest.raises(ValidationError) as validated:
        getattr(rt, name).model_validate(raw)
    assert str(got.value) == str(validated.value) == str(expected.value)
    assert got.value.errors(include_context=False) == expected.value.errors(include_context=False)


def test_model_copy_replaces_without_validating() -> None:
    """As pydantic's ``model_copy(update=...)``: tests use it to build intents validation would refuse."""
    pool = rt.Pool(name="p", ipv4=["100.64.0.0/16"])
    evil = pool.model_copy(update={"name": "x\n no ip access-list"})
    assert evil.name == "x\n no ip access-list" and evil.ipv4 is pool.ipv4 and pool.name == "p"


def test_a_loaded_inventory_holds_runtime_objects_sharing_the_policys_pools() -> None:
    inv = load_inventory(SAMPLE)
    seen: list[object] = []

    def walk(value: object) -> None:
        assert not hasattr(value, "model_fields"), repr(value)
        if isinstance(value, rt.Record):
            seen.append(value)
            for k in value.field_names():
                walk(getattr(value, k))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    for dev in inv.devices.values():
        for f in dataclasses.fields(dev):
            walk(getattr(dev, f.name))
        assert dev.policy is inv.policy
        assert all(any(p is q for q in inv.policy.pools) for p in dev.pools)
    assert {type(v) for v in seen} >= {rt.Policy, rt.Pool, rt.Attachment, rt.FlowControl, rt.Exemptions}


_NAMES = st.sampled_from(["r1", "r2", "r3", "tokyo", "osaka"])
_SCOPE = st.one_of(st.none(), st.lists(_NAMES, max_size=3))


@given(
    scopes=st.lists(st.tuples(st.booleans(), _SCOPE, _SCOPE), max_size=8),
    device=_NAMES,
    groups=st.lists(_NAMES, max_size=3).map(tuple),
)
def test_applying_exemptions_are_those_whose_scope_names_the_device(
    scopes: list[tuple[bool, list[str] | None, list[str] | None]], device: str, groups: tuple[str, ...]
) -> None:
    """The index by device and group gives exactly the walk of every entry through ``applies_to``, in policy
    order (static first), and the same tuple object for the same set."""
    static = [
        rt.StaticExemption(name=f"s{i}", prefix=f"192.0.2.{i}", devices=d, groups=g)
        for i, (is_static, d, g) in enumerate(scopes)
        if is_static
    ]
    opt_out = [
        rt.OptOut(subscriber=f"o{i}", prefix=f"198.51.100.{i}", devices=d, groups=g)
        for i, (is_static, d, g) in enumerate(scopes)
        if not is_static
    ]
    ex = rt.Exemptions(static=static, opt_out=opt_out)
    walk = tuple((s.name, s.prefix) for s in static if s.applies_to(device, groups)) + tuple(
        (o.subscriber, o.prefix) for o in opt_out if o.applies_to(device, groups)
    )
    got = ex.applying(device, groups)
    assert got == walk
    assert ex.applying(device, tuple(reversed(groups))) is got
