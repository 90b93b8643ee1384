"""Benchmark op25b's YAML reader against PyYAML's libyaml loader on the same synthesised inventory.

Usage::

    python bench/yaml_load.py               # 10,000 hosts
    python bench/yaml_load.py --hosts 1000

Times, best of ``--repeats``, reading ``hosts.yaml`` of the inventory ``bench/generate.py`` synthesises:

* ``op25b``: :func:`op25b_cfg.yamlload.load_yaml` (what ``load_inventory`` calls: duplicate-key, alias and tag
  checks included);
* ``pyyaml``: ``yaml.load(text, Loader=yaml.CSafeLoader)``, the loader op25b used before;
* ``events``: the bare libyaml event stream (the floor for any reader built on it).

Both readers are checked to return the same data before timing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import synthesise

from op25b_cfg.yamlload import load_yaml


def best(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def events(text: str) -> None:
    parser = yaml.CSafeLoader(text)
    try:
        while not isinstance(parser.get_event(), yaml.StreamEndEvent):
            pass
    finally:
        parser.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="op25b-bench-yaml-") as tmp:
        synthesise(args.hosts, Path(tmp))
        text = (Path(tmp) / "hosts.yaml").read_text(encoding="utf-8")
    assert load_yaml(text) == yaml.load(text, Loader=yaml.CSafeLoader)
    ours = best(lambda: load_yaml(text), args.repeats)
    theirs = best(lambda: yaml.load(text, Loader=yaml.CSafeLoader), args.repeats)
    floor = best(lambda: events(text), args.repeats)
    print(f"hosts.yaml: {args.hosts} hosts, {len(text) / 1e6:.1f} MB")
    print(f"  op25b load_yaml      {ours:6.3f} s")
    print(f"  PyYAML CSafeLoader   {theirs:6.3f} s   ({theirs / ours:.1f}x op25b)")
    print(f"  libyaml events only  {floor:6.3f} s   (floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
