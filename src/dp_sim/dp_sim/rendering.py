"""Headless OpenGL for MuJoCo cameras: EGL when its library is present, else OSMesa.

MuJoCo picks its GL backend from ``MUJOCO_GL`` when ``mujoco`` is first imported, so the choice
is made in ``dp_sim/__init__.py`` (via :func:`select_gl_backend`) before anything imports mujoco.
A user's own ``MUJOCO_GL`` always wins. Rendering is optional: the low-dim sim never calls it.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

GL_PACKAGES = {
    "egl": "libegl1 (plus a Mesa driver: libegl-mesa0, libgl1-mesa-dri)",
    "osmesa": "libosmesa6",
}


def select_gl_backend() -> str:
    """Set MUJOCO_GL (and PyOpenGL's platform) to egl or osmesa unless the user chose; return it.

    Mesa's EGL renders off-screen on CPU-only machines too (llvmpipe); OSMesa is the fallback.
    """
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if not chosen:
        if ctypes.util.find_library("EGL"):
            chosen = "egl"
        elif ctypes.util.find_library("OSMesa"):
            chosen = "osmesa"
        else:
            chosen = "egl"  # fails only when a camera is rendered, with a message naming the package
        os.environ["MUJOCO_GL"] = chosen
    if chosen in GL_PACKAGES:
        os.environ.setdefault("PYOPENGL_PLATFORM", chosen)
    return chosen


def _use_selected_backend() -> None:
    """Point mujoco's renderer at the MUJOCO_GL backend even if mujoco was imported first.

    mujoco binds its GL context class at import time; a process that imported mujoco before
    dp_sim (so before MUJOCO_GL was chosen) would otherwise try GLFW, which needs a display.
    """
    import importlib

    backend = os.environ.get("MUJOCO_GL", "")
    if backend not in GL_PACKAGES:
        return
    try:
        from mujoco.rendering.classic import gl_context
    except ImportError:  # older mujoco layouts bind the backend in mujoco.gl_context only
        return
    current = getattr(gl_context, "GLContext", None)
    if current is None or current.__module__ != f"mujoco.{backend}":
        try:
            gl_context.GLContext = importlib.import_module(f"mujoco.{backend}").GLContext
        except (ImportError, AttributeError, OSError) as err:
            log.warning("cannot load the %s GL backend: %s", backend, err)


class CameraRenderer:
    """One mujoco.Renderer per image size, created on first use."""

    def __init__(self, model: Any) -> None:  # mujoco.MjModel
        self.model = model
        self._renderers: dict[tuple[int, int], Any] = {}  # mujoco.Renderer

    def render(self, data: Any, camera: str, height: int, width: int) -> np.ndarray:
        """RGB uint8 image (height, width, 3) of a named camera."""
        import mujoco

        if height < 1 or width < 1:
            raise ValueError(f"image size must be positive, got {height}x{width}")
        try:
            cam_id = self.model.camera(camera).id
        except KeyError as err:
            names = [self.model.camera(i).name for i in range(self.model.ncam)]
            raise ValueError(f"unknown camera '{camera}'; the scene has {names}") from err
        key = (int(height), int(width))
        if key not in self._renderers:
            _use_selected_backend()
            try:
                self._renderers[key] = mujoco.Renderer(self.model, height=key[0], width=key[1])
            except Exception as err:
                backend = os.environ.get("MUJOCO_GL", "")
                raise RuntimeError(
                    f"cannot create a headless OpenGL context with MUJOCO_GL={backend!r} ({err}). Install "
                    f"{GL_PACKAGES.get(backend, 'an OpenGL driver')} or set MUJOCO_GL=osmesa with libosmesa6 installed; "
                    "or run without cameras (low-dim mode)."
                ) from err
            # Shadows, reflections, skybox and haze cost ~80 % of a software-rendered (llvmpipe)
            # frame and add nothing a policy needs.
            flags = self._renderers[key].scene.flags
            for flag in ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX", "mjRND_HAZE"):
                flags[getattr(mujoco.mjtRndFlag, flag)] = 0
        renderer = self._renderers[key]
        renderer.update_scene(data, camera=cam_id)
        return renderer.render().copy()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
