"""Class 14: temporary files in the output folder are created safely; a planted symlink is never followed.

Every name a run might use for a temporary file is planted as a symlink to a victim file
outside the output folder; after the run the victim is unchanged.
"""

from __future__ import annotations

import os

from tests.hostile.helpers import pipeline, tiny_png

RESULT_FILES = ["results.csv", "results.jsonl", "results.json", "report.json", "0.png", "1.png"]


def _plant(out, victim):
    names = []
    for base in RESULT_FILES:
        for middle in (str(os.getpid()), "merge", "tmp", "part", str(os.getpid() + 1)):
            names += [f".{base}.{middle}.tmp", f"{base}.{middle}.tmp", f".{base}.{middle}"]
        names += [f".{base}.tmp", f"{base}.tmp", f"{base}~", f".{base}"]
    for name in dict.fromkeys(names):
        os.symlink(victim, out / name)
    return names


def test_planted_symlinks_at_temp_names_are_not_followed(tmp_path, plugins, monkeypatch):
    from workflow import Workflow
    from workflow.plugins.registry import reset_default_registry
    from workflow.run.runner import run_on

    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(plugins))
    reset_default_registry()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        tiny_png(folder / f"{i}.png", 100 * i)
    out = tmp_path / "out"
    out.mkdir()
    _plant(out, victim)
    wf = Workflow.load(pipeline(tmp_path / "p.yaml", "mark", outputs="{annotated: $steps.t.image}"))
    report = run_on(wf, folder=folder, output_dir=out)
    assert report.processed == 2 and not report.failed
    report = run_on(wf, folder=folder, output_dir=out, resume=True)  # resume rewrites the files too
    reset_default_registry()
    assert victim.read_text() == "precious"
    assert (out / "results.csv").is_file() and not (out / "results.csv").is_symlink()


def test_result_file_that_is_a_symlink_out_of_the_folder_is_not_written_through(
    tmp_path, plugins, monkeypatch
):
    from workflow import Workflow
    from workflow.plugins.registry import reset_default_registry
    from workflow.run.runner import run_on

    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(plugins))
    reset_default_registry()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "imgs"
    folder.mkdir()
    tiny_png(folder / "0.png")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("results.csv", "results.jsonl", "results.json", "report.json"):
        os.symlink(victim, out / name)
    wf = Workflow.load(pipeline(tmp_path / "p.yaml", "brightness"))
    try:
        run_on(wf, folder=folder, output_dir=out)
    except Exception:  # noqa: BLE001 - refusing is fine, writing through is not
        pass
    reset_default_registry()
    assert victim.read_text() == "precious"
