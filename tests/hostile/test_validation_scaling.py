"""Class 7: validating and ordering a pipeline takes time linear (or n log n) in tasks + edges.

A 2,000-task chain took over 300 s; it must validate in a few seconds, and four
times the tasks must not cost much more than four times the time.
"""

from __future__ import annotations

from tests.hostile.helpers import assert_bounded, child_env, run_bounded, run_python, workflow_cmd


def _chain(path, n: int, fan: bool = False):
    lines = [
        "version: 1",
        "name: long-chain",
        "inputs: {image: {type: image}}",
        "tasks:",
        "  - {id: t0, task: pass_image, inputs: {image: $inputs.image}}",
    ]
    for i in range(1, n):
        src = f"t{i // 2}" if fan else f"t{i - 1}"
        lines.append(f"  - {{id: t{i}, task: pass_image, inputs: {{image: $steps.{src}.image}}}}")
    lines.append(f"outputs: {{out: $steps.t{n - 1}.image}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_2000_task_chain_validates_quickly(tmp_path, plugins):
    file = _chain(tmp_path / "chain.yaml", 2000)
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 0 and "2000 task(s)" in res.out, str(res)
    assert res.seconds < 8, str(res)


def test_validation_time_grows_about_linearly(tmp_path, plugins):
    code = (
        "import time\nfrom workflow import Workflow\nts = []\n"
        "for f in ({a!r}, {b!r}):\n    t = time.perf_counter(); wf = Workflow.load(f); wf.validate(); wf.order()\n"
        "    ts.append(time.perf_counter() - t)\nprint(ts[0], ts[1])\n"
    )
    small, big = _chain(tmp_path / "s.yaml", 500, fan=True), _chain(tmp_path / "b.yaml", 2000, fan=True)
    res = run_python(code.format(a=str(small), b=str(big)), env=child_env(plugins))
    assert_bounded(res)
    t_small, t_big = map(float, res.out.split())
    assert t_big < 6 * t_small + 0.5, f"500 tasks: {t_small:.2f} s, 2000 tasks: {t_big:.2f} s"


def test_a_cycle_in_a_large_pipeline_is_found_quickly(tmp_path, plugins):
    file = _chain(tmp_path / "cycle.yaml", 2000)
    text = file.read_text().replace(
        "{id: t0, task: pass_image, inputs: {image: $inputs.image}}",
        "{id: t0, task: pass_image, inputs: {image: $steps.t1999.image}}",
    )
    file.write_text(text)
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 1 and "cycle" in res.err.lower(), str(res)
