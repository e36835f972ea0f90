"""Where a result came from: software versions, GPU, CPU and host."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from bench import __version__, nvml
from bench.hardware import physical_memory_bytes
from bench.schema import CPUInfo, Environment, GPUInfo

REPO = Path(__file__).resolve().parent.parent


def git_commit(repo: Path = REPO) -> str | None:
    """The checkout's commit, with '-dirty' when it has uncommitted changes; None outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def cpu_info() -> CPUInfo:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return CPUInfo(
        model=model or platform.processor() or None,
        cores=os.cpu_count(),
        memory_bytes=physical_memory_bytes(),
    )


def slurm_job_id() -> str | None:
    """The Slurm job running this process as squeue shows it ("4711_3" for an array task), or None."""
    array_id, task_id = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_id and task_id:
        return f"{array_id}_{task_id}"
    return os.environ.get("SLURM_JOB_ID") or None


def node_name() -> str | None:
    """Slurm's name for this node where Slurm runs the process, else the host name."""
    return os.environ.get("SLURMD_NODENAME") or platform.node() or None


def collect(device: str, commit: str | None) -> Environment:
    """The environment of a cell, read inside the cell's process (torch is loaded there)."""
    import torch
    import transformers

    gpu = driver = None
    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(index)
        gpu = GPUInfo(name=props.name, memory_bytes=props.total_memory, count=torch.cuda.device_count())
        driver = nvml.driver_version()
    return Environment(
        gpuscape=__version__,
        git_commit=commit,
        python=platform.python_version(),
        torch=torch.__version__,
        transformers=transformers.__version__,
        cuda=torch.version.cuda,
        driver=driver if isinstance(driver, str) or driver is None else str(driver),
        gpu=gpu,
        cpu=cpu_info(),
        host=platform.node() or None,
        platform=platform.platform(),
        node=node_name(),
        slurm_job_id=slurm_job_id(),
    )
