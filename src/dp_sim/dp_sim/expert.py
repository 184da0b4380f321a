"""Scripted Push-T expert: goes around the block on a random side, then pushes it home.

It acts only through Cartesian pusher targets (x, y) at a fixed decision rate, the same command
a teleoperator's pose target gives, and observes only the pusher position and the block pose.

Strategy (block frame: +x from the stem to the bar, see :mod:`dp_sim.tshape`):
1. route: pass the block on the left or the right (a seeded coin per episode; the two modes of
   the demonstrations) via waypoints beside the stem, beside the bar and behind the bar;
2. approach: move to just behind the bar's back face;
3. push: push along the face normal, so the block travels along its own axis like a car, and
   steer it by moving the contact point along the face: the desired yaw pursues the target's
   axis (removes the lateral error) and fades to the target yaw over the last few centimetres.
If contact is lost it approaches again (going around if it ended up in front of the bar).
One consistent strategy with a single binary choice keeps the demonstrations learnable by a
low-dim policy from ~50-100 episodes while still being multimodal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from dp_sim.tshape import TShape, from_frame, to_frame, wrap_angle

log = logging.getLogger(__name__)


class Phase(Enum):
    ROUTE = "route"
    APPROACH = "approach"
    PUSH = "push"
    DONE = "done"


@dataclass(frozen=True)
class ExpertConfig:
    """Gains and speeds of the scripted expert (SI units)."""

    decision_dt_s: float = 0.1
    transit_speed_m_s: float = 0.15
    push_speed_m_s: float = 0.04
    min_push_speed_m_s: float = 0.006
    push_gain_per_s: float = 1.0  # push speed = gain * remaining distance, clipped to the range above
    yaw_gain_m_per_rad: float = 0.12  # contact offset along the face per rad of yaw error
    lookahead_m: float = 0.06  # pure-pursuit look-ahead along the target axis
    max_heading_rad: float = 0.5  # steering limit
    fade_m: float = 0.03  # steering fades out over this remaining distance
    preload_m: float = 0.003  # commanded penetration into the face while pushing
    max_offset_m: float = 0.055  # |contact offset| along the bar's back face
    clearance_m: float = 0.03  # free space kept around the block while routing
    waypoint_tolerance_m: float = 0.012
    contact_tolerance_m: float = 0.02  # farther than this from the face = contact lost
    done_position_m: float = 0.002  # stop pushing this close to the target along its axis
    pusher_radius_m: float = 0.015

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not value > 0:
                raise ValueError(f"ExpertConfig.{name} must be > 0, got {value}")
        if self.min_push_speed_m_s > self.push_speed_m_s:
            raise ValueError(f"min_push_speed_m_s ({self.min_push_speed_m_s}) > push_speed_m_s ({self.push_speed_m_s})")


@dataclass
class ScriptedExpert:
    """Closed-loop expert; call :meth:`reset` per episode and :meth:`act` every decision_dt_s."""

    target_pose: np.ndarray
    shape: TShape = field(default_factory=TShape)
    config: ExpertConfig = field(default_factory=ExpertConfig)

    def __post_init__(self) -> None:
        self.target_pose = np.asarray(self.target_pose, dtype=float)
        self.reset(0)

    def reset(self, seed: int) -> None:
        """New episode; the route side is a seeded coin flip (+1 = pass on the block's left)."""
        self.side = 1 if np.random.default_rng([int(seed), 0xE7]).random() < 0.5 else -1
        self.phase = Phase.ROUTE
        self._waypoint = 0

    def _route_waypoints(self) -> np.ndarray:
        """Block-frame waypoints beside the stem, beside the bar, behind the bar."""
        c, r = self.config, self.config.pusher_radius_m
        side_y = self.side * (self.shape.bar_length / 2 + r + c.clearance_m)
        behind_x = self.shape.back_x + r + c.clearance_m
        stem_y = self.side * (self.shape.stem_width / 2 + r + c.clearance_m)
        return np.array([[self.shape.stem_tip_x - r - c.clearance_m, stem_y], [0.0, side_y], [behind_x, side_y]])

    def _push_plan(self, block_pose: np.ndarray) -> tuple[float, float, float]:
        """Contact offset along the back face, push speed, and remaining distance along the target's axis.

        Pushed at the face centre the block travels along its own -x axis, like a car: the
        lateral error is removed by steering (pure pursuit of the target's x axis, look-ahead
        ``lookahead_m``) and the yaw is steered by offsetting the contact along the face.
        """
        c = self.config
        e = to_frame(block_pose[None, :2], self.target_pose)[0]  # block in the target frame
        yaw = wrap_angle(block_pose[2] - self.target_pose[2])
        # Steering fades out over the last fade_m so that the block arrives square to the target.
        fade = float(np.clip(e[0] / c.fade_m, 0.0, 1.0))
        desired_yaw = fade * float(np.clip(np.arctan2(e[1], c.lookahead_m), -c.max_heading_rad, c.max_heading_rad))
        offset = float(np.clip(c.yaw_gain_m_per_rad * wrap_angle(desired_yaw - yaw), -c.max_offset_m, c.max_offset_m))
        speed = float(np.clip(c.push_gain_per_s * e[0], c.min_push_speed_m_s, c.push_speed_m_s))
        return offset, speed, float(e[0])

    def act(self, pusher_xy: np.ndarray, block_pose: np.ndarray) -> np.ndarray:
        """Next pusher target (x, y) from the pusher position and the block pose (x, y, yaw)."""
        c = self.config
        pusher_xy, block_pose = np.asarray(pusher_xy, float), np.asarray(block_pose, float)
        offset, speed, remaining = self._push_plan(block_pose)
        if remaining < c.done_position_m:
            self.phase = Phase.DONE
            return pusher_xy.copy()
        face_x = self.shape.back_x + c.pusher_radius_m
        local_pusher = to_frame(pusher_xy[None], block_pose)[0]
        if self.phase is Phase.ROUTE:
            waypoints = self._route_waypoints()
            while (
                self._waypoint < len(waypoints)
                and np.linalg.norm(local_pusher - waypoints[self._waypoint]) < c.waypoint_tolerance_m
            ):
                self._waypoint += 1
            if self._waypoint < len(waypoints):
                return self._move_towards(
                    pusher_xy, from_frame(waypoints[self._waypoint], block_pose)[0], c.transit_speed_m_s
                )
            self.phase = Phase.APPROACH
        if self.phase is Phase.PUSH and (
            local_pusher[0] < face_x - c.contact_tolerance_m / 2
            or np.linalg.norm(local_pusher - (face_x, offset)) > c.contact_tolerance_m * 2
        ):
            self.phase = Phase.APPROACH
        if self.phase is Phase.APPROACH:
            pre = np.array([face_x + c.clearance_m / 2, offset])
            if local_pusher[0] < face_x - 0.005:  # not behind the bar: go around again
                self.phase, self._waypoint = Phase.ROUTE, 1
                self.side = 1 if local_pusher[1] >= 0 else -1
                return self.act(pusher_xy, block_pose)
            if np.linalg.norm(local_pusher - pre) > c.waypoint_tolerance_m:
                return self._move_towards(pusher_xy, from_frame(pre, block_pose)[0], c.transit_speed_m_s)
            self.phase = Phase.PUSH
        return from_frame(np.array([face_x - c.preload_m - speed * c.decision_dt_s, offset]), block_pose)[0]

    def _move_towards(self, pusher_xy: np.ndarray, goal: np.ndarray, speed: float) -> np.ndarray:
        step = goal - pusher_xy
        max_step = speed * self.config.decision_dt_s
        norm = float(np.linalg.norm(step))
        return goal if norm <= max_step else pusher_xy + step * (max_step / norm)
