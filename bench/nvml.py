"""NVML, opened in one place: the device count, a device's handle, the driver version.

Imports no torch at module level (bench.suite asks for the device count without it). Without a
driver or library every call raises pynvml.NVMLError, or returns the documented default.
"""

from __future__ import annotations

from typing import Any


def nvml() -> Any:
    """The pynvml module, initialised (nvmlInit is reference-counted and cheap to repeat)."""
    import pynvml

    pynvml.nvmlInit()
    return pynvml


def gpu_count() -> int:
    """GPUs NVML sees; 0 without a driver or library (a CPU machine)."""
    try:
        lib = nvml()
    except Exception:  # no driver, no library
        return 0
    try:
        return lib.nvmlDeviceGetCount()
    except Exception:
        return 0
    finally:
        lib.nvmlShutdown()


def device_handle(device: str) -> tuple[Any, Any]:
    """(pynvml module, handle) of a torch device such as "cuda:1", matched by PCI bus id where
    torch reports it (CUDA and NVML may number devices differently); raises pynvml.NVMLError
    without a GPU."""
    import torch

    lib = nvml()
    index = torch.device(device).index or 0
    bus_id = (
        getattr(torch.cuda.get_device_properties(index), "pci_bus_id", None)
        if torch.cuda.is_available()
        else None
    )
    if bus_id:
        return lib, lib.nvmlDeviceGetHandleByPciBusId(bus_id)
    return lib, lib.nvmlDeviceGetHandleByIndex(index)


def driver_version() -> str | None:
    """The NVIDIA driver's version, or None where NVML cannot be read."""
    try:
        version = nvml().nvmlSystemGetDriverVersion()
    except Exception:
        return None
    return version.decode() if isinstance(version, bytes) else str(version)
