"""Two processes under torch.distributed.run on CPU (gloo): DDP keeps the ranks identical, rank 0 alone
writes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import yaml

from infer_torchvision_resnext.checkpoint.format import load_checkpoint

RANK_SCRIPT = textwrap.dedent("""
    import hashlib, json, os, sys
    import torch
    from workflow import Workflow

    wf = Workflow.load(sys.argv[1])
    outputs = wf.run()
    result = wf.get_task("train").get_results()
    digest = hashlib.sha256()
    for name, tensor in sorted(result.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    rank = int(os.environ["RANK"])
    with open(os.path.join(sys.argv[2], f"rank{rank}.json"), "w") as fh:
        json.dump({"model": str(outputs["model"]), "digest": digest.hexdigest(), "rows": len(outputs["metrics"]),
                   "group_left": torch.distributed.is_initialized()}, fh)
""")


def _digest(state_dict: dict) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        digest.update(name.encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_two_cpu_processes_train_identical_weights_and_rank0_writes(tmp_path, tiny_digits):
    output_folder = tmp_path / "runs"
    pipeline = tmp_path / "train.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "ddp",
                "inputs": {},
                "tasks": [
                    {
                        "id": "train",
                        "task": "train_torchvision_resnext",
                        "params": {
                            "dataset_folder": str(tiny_digits),
                            "epochs": 2,
                            "batch_size": 2,
                            "input_size": 64,  # at 32 px layer4 is 1x1: batch norm on 2 values diverged (AMX CPU)
                            "pretrained": False,
                            "feature_extract": False,
                            "num_workers": 0,
                            "output_folder": str(output_folder),
                            "optimizer": "sgd",
                            "learning_rate": 0.001,
                            "quantize_int8": False,
                            "device": "cpu",
                        },
                    }
                ],
                "outputs": {"model": "$steps.train.model", "metrics": "$steps.train.metrics"},
            }
        )
    )
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WORKFLOW_PROGRESS": "0"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            str(script),
            str(pipeline),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    (run_dir,) = output_folder.iterdir()  # rank 0 made the one run folder; every rank wrote into it
    assert (
        ranks[0]["model"] == ranks[1]["model"] == str(run_dir / "best.pt")
    )  # every rank outputs the same path
    assert ranks[0]["digest"] == ranks[1]["digest"]  # DDP kept the weights identical
    assert ranks[0]["digest"] == _digest(
        load_checkpoint(run_dir / "last.pt").state_dict
    )  # and rank 0 saved them
    assert ranks[0]["rows"] == ranks[1]["rows"] == 2
    assert not ranks[0]["group_left"] and not ranks[1]["group_left"]  # the task tore down the group it made
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "best.pt",
        "classes.txt",
        "confusion.png",
        "curves.png",
        "last.pt",
        "metrics.csv",
        "metrics.json",
        "params.yaml",
        "resnext50.pth",
        "split.json",
    ]
    epochs = json.loads((run_dir / "metrics.json").read_text())["epochs"]
    # each rank validated half of the 6 images; the metrics were reduced over both
    assert [sum(map(sum, e["confusion"])) for e in epochs] == [6, 6]
    assert "# world_size: 2" in (run_dir / "params.yaml").read_text()
    assert load_checkpoint(run_dir / "best.pt").manifest.class_names == ["0", "1", "2"]
    assert torch.load(run_dir / "last.pt", weights_only=True)["extra"]["epoch"] == 2
