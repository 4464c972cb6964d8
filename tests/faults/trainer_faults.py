"""Trainer faults: `dance-train fit` SIGKILLed at random moments, then resumed with the same command.

The real CLI runs as a subprocess on one CPU thread (so every step is deterministic and the kill
moments are not skewed by thread contention); its progress bars are read as they are drawn, which
tells the step each kill interrupted. Some kills wait for a checkpoint's temporary folder
(`shared.io.files.atomic_write`) to appear and land while the checkpoint is written in it; the
others land a random fraction of a step after a random step.

One kill is one try. It passes when, right after the kill, every checkpoint on disk loads and the
one a resume starts from is at most one checkpoint interval behind the interrupted step, and the
resume that follows starts exactly there and trains on (or finishes) without an error. After the
last kill the run is finished and its final weights are compared with an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from shared.model.checkpoint import CheckpointStore, load_checkpoint
from tests.faults.report import FaultRow

STEP_BAR = re.compile(r"(\w+): *\d+%\|[^|]*\| *(\d+)/(\d+) ")  # tqdm: "global:  50%|█████     | 3/6 [..."
START_TIMEOUT = 120.0  # seconds for a fit process to draw the step it is waited for
TEMP_POLL = 0.001  # seconds between looks for a checkpoint's temporary folder


@dataclass(frozen=True)
class FitJob:
    """One `dance-train fit` command on a prepared dataset (the same for every start of a run)."""

    dataset: Path
    steps: int
    checkpoint_every: int
    seed: int = 0

    def command(self, run: Path) -> list[str]:
        script = Path(sys.executable).with_name("dance-train")
        entry = [str(script)] if script.exists() else [sys.executable, "-m", "trainer.cli"]
        return [*entry, "fit", str(self.dataset), "-o", str(run), "--steps", str(self.steps), "--checkpoint-every",
                str(self.checkpoint_every), "--seed", str(self.seed), "--no-vgg", "--device", "cpu"]  # fmt: skip

    def stage_offsets(self) -> dict[str, int]:
        """Total steps done before each stage starts (its bar counts from 0 again)."""
        from trainer.dataset import DatasetManifest
        from trainer.fit import FitConfig, model_config_for, plan_stages

        fit = FitConfig(steps=self.steps, use_vgg=False, seed=self.seed, checkpoint_every=self.checkpoint_every)
        plans = plan_stages(model_config_for(fit, DatasetManifest.load(self.dataset).image_size), fit)
        offsets, done = {}, 0
        for plan in plans:
            offsets[plan.name] = done
            done += plan.steps or 0
        return offsets


def fit_env() -> dict[str, str]:
    """One torch thread (deterministic, and modest beside other work) and a bar drawn at every step."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_MININTERVAL": "0", "TQDM_MINITERS": "1"}


class FitProcess:
    """A running `dance-train fit` whose stderr (progress bars, errors) is read as it comes."""

    def __init__(self, command: list[str], offsets: dict[str, int]) -> None:
        self.offsets = offsets
        self.first_step: int | None = None  # the total step its first bar showed (where it resumed)
        self.step: int | None = None  # total steps done, as last drawn
        self.step_seconds: float = 1.0  # the last step's duration
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._drawn_at = 0.0
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=fit_env())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = ""
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            pending += chunk.decode(errors="replace")
            *done, pending = re.split(r"[\r\n]", pending)
            for line in done:
                self._take(line)
        self._take(pending)
        with self._changed:
            self._changed.notify_all()

    def _take(self, line: str) -> None:
        if not line.strip():
            return
        match = STEP_BAR.search(line)
        with self._changed:
            if match is None or match.group(1) not in self.offsets:
                self.lines.append(line)
                return
            step = self.offsets[match.group(1)] + int(match.group(2))
            now = time.monotonic()
            if self.step is not None and step > self.step:
                self.step_seconds = now - self._drawn_at
            self.first_step = step if self.first_step is None else self.first_step
            self.step, self._drawn_at = step, now
            self._changed.notify_all()

    def wait_for_step(self, step: int, timeout: float = START_TIMEOUT) -> bool:
        """Until the bars show `step` done (True) or the process ended or the time ran out (False)."""
        end = time.monotonic() + timeout
        with self._changed:
            while (self.step is None or self.step < step) and self.proc.poll() is None and time.monotonic() < end:
                self._changed.wait(0.05)
            return self.step is not None and self.step >= step

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    def finish(self, timeout: float = 600.0) -> int:
        """Wait for the exit; returns the exit status (negative: killed by that signal)."""
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def errors(self) -> list[str]:
        """Lines of a crash or an error message (a clean run or kill prints none)."""
        return [line for line in self.lines if "Traceback" in line or line.startswith("Error")]


def saved_step(run: Path) -> int:
    """The total step a resume starts from: the latest checkpoint's, 0 without one."""
    latest = CheckpointStore(run / "checkpoints").latest()
    if latest is None:
        return 0
    _, info = load_checkpoint(latest)
    return int(info["progress"]["total_step"])


def temp_files(run: Path) -> list[Path]:
    """What killed writes left: in the checkpoints folder anything but step files and the pointer
    (a writer may make temporary files of its own: safetensors writes a `.tmpXXXXXX` first), in the
    run folder hidden or `.tmp` entries (config, exemplar bank)."""
    checkpoints = run / "checkpoints"
    found = [p for p in checkpoints.iterdir() if not re.fullmatch(r"step-\d+\.safetensors|latest\.json", p.name)] \
        if checkpoints.is_dir() else []  # fmt: skip
    return found + [p for p in run.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")] if run.is_dir() else found


def damaged_files(run: Path) -> list[str]:
    """Every checkpoint, the pointer's target and the run config must still load."""
    problems = []
    folder = run / "checkpoints"
    for path in sorted(folder.glob("step-*.safetensors")) if folder.is_dir() else []:
        try:
            load_checkpoint(path)
        except Exception as err:  # noqa: BLE001 - any failure to load is what this looks for
            problems.append(f"{path.name}: {err}")
    config = run / "config.json"
    if config.exists():
        try:
            json.loads(config.read_text())
        except ValueError as err:
            problems.append(f"config.json: {err}")
    return problems


def wait_for_write(run: Path, proc: FitProcess, timeout: float = START_TIMEOUT) -> bool:
    """Until a checkpoint's temporary folder exists (True), or the process ended (False)."""
    folder = run / "checkpoints"
    end = time.monotonic() + timeout
    while proc.proc.poll() is None and time.monotonic() < end:
        if folder.is_dir() and any(name.startswith(".step-") and name.endswith(".tmp") for name in os.listdir(folder)):
            return True
        time.sleep(TEMP_POLL)
    return False


@dataclass
class KillPlan:
    """Where each kill lands: after a random step, then either a random fraction of a step later
    or as soon as the next checkpoint write has begun."""

    targets: list[int]  # kill after the bars show this total step
    at_write: list[bool]  # then as soon as a checkpoint is being written ...
    delays: list[float]  # ... or after this fraction of a step

    @classmethod
    def draw(cls, kills: int, steps: int, seed: int) -> KillPlan:
        rng = random.Random(seed)
        targets = sorted(rng.choices(range(steps - 1), k=kills) if kills > steps - 1 else rng.sample(range(steps - 1), kills))
        at_write = [i % 3 == 1 for i in range(kills)]  # every third kill, starting with the second
        return cls(targets, at_write, [rng.random() for _ in range(kills)])


def run_uninterrupted(job: FitJob, run: Path) -> FitProcess:
    proc = FitProcess(job.command(run), job.stage_offsets())
    proc.finish()
    return proc


def compare_final(a: Path, b: Path) -> str | None:
    """None when both runs' final checkpoints hold bit-equal tensors, else what differs."""
    (groups_a, info_a), (groups_b, info_b) = (CheckpointStore(r / "checkpoints").load_latest() for r in (a, b))
    if not (info_a.get("finished") and info_b.get("finished")):
        return "a run did not finish"
    if groups_a.keys() != groups_b.keys():
        return f"different groups {sorted(groups_a)} vs {sorted(groups_b)}"
    worst, where = 0.0, ""
    for group, tensors in groups_a.items():
        for key, value in tensors.items():
            other = groups_b[group].get(key)
            if other is None or other.shape != value.shape:
                return f"{group}.{key} missing or reshaped"
            diff = (value.double() - other.double()).abs().max().item() if value.numel() else 0.0
            if not torch.equal(value, other) and diff >= worst:
                worst, where = diff, f"{group}.{key}"
    return None if not where else f"weights differ, most in {where} by {worst:.3g}"


def _kill_once(run: Path, proc: FitProcess, target: int, at_write: bool, delay: float) -> int | None:
    """Kill `proc` as planned; returns the step it had reached, None when it ended first."""
    if not proc.wait_for_step(target):
        return None
    if at_write:
        if not wait_for_write(run, proc):
            return None
    else:
        time.sleep(delay * proc.step_seconds)
    if proc.proc.poll() is not None:
        return None
    proc.kill()
    proc.finish()  # the bars it drew before dying are all read now
    return proc.step if proc.step is not None else saved_step(run)


def _check_after_kill(run: Path, killed_at: int, every: int) -> list[str]:
    """Right after a kill: every checkpoint loads, and a resume loses at most one interval."""
    problems = damaged_files(run)
    resume_at = saved_step(run)
    if killed_at - resume_at > every:
        problems.append(f"killed at step {killed_at}, a resume starts at {resume_at}: more than {every} steps lost")
    return problems


def kill_fit(job: FitJob, workdir: Path, kills: int, seed: int = 0) -> list[FaultRow]:
    """`kills` SIGKILLs of one run, each followed by a resume; then the final weights are compared
    with those of an uninterrupted run of the same command."""
    workdir.mkdir(parents=True, exist_ok=True)
    straight, killed = workdir / "uninterrupted", workdir / "killed"
    offsets = job.stage_offsets()
    reference = FitProcess(job.command(straight), offsets)  # beside the killed run: one CPU thread each
    plan = KillPlan.draw(kills, job.steps, seed)
    row = FaultRow("trainer", "", kills, 0)
    in_write = 0
    proc = FitProcess(job.command(killed), offsets)
    for i, (target, at_write, delay) in enumerate(zip(plan.targets, plan.at_write, plan.delays)):
        killed_at = _kill_once(killed, proc, target, at_write, delay)
        if killed_at is None:
            row.fail(f"kill {i + 1}: the run ended (status {proc.finish()}) before the kill after step {target}")
            proc = FitProcess(job.command(killed), offsets)
            continue
        in_write += any(p.parent.name == "checkpoints" and p.name.startswith(".step-") for p in temp_files(killed))
        problems = _check_after_kill(killed, killed_at, job.checkpoint_every)
        resume_at = saved_step(killed)
        proc = FitProcess(job.command(killed), offsets)
        problems += _check_resume(proc, resume_at, last=i == kills - 1)
        for problem in problems:
            row.fail(f"kill {i + 1} (at step {killed_at}): {problem}")
        row.passed += not problems
    code = proc.finish()  # the last resume (already waited for, unless the last kill missed)
    if code != 0 and not row.failures:
        row.fail(f"the final resume ended with status {code}: {' | '.join(proc.errors() or proc.lines[-3:])}")
    left = temp_files(killed)
    if left:
        row.fail(f"temporary files left after the run finished: {', '.join(p.name for p in left)}")
    row.tried = (f"dance-train fit SIGKILLed at random steps ({in_write} during a checkpoint write), then resumed "
                 f"({job.steps} steps, a checkpoint every {job.checkpoint_every})")  # fmt: skip
    reference.finish()
    return [row, _final_row(reference, straight, killed, kills)]


def _check_resume(proc: FitProcess, resume_at: int, last: bool) -> list[str]:
    """The resume starts at `resume_at` without an error and trains on (the last one: to the end)."""
    if last:
        code = proc.finish()
        if code != 0:
            return [f"the resume ended with status {code}: {' | '.join(proc.errors() or proc.lines[-3:])}"]
    else:
        proc.wait_for_step(resume_at)  # drawn once it has loaded the checkpoint and built the stage
    problems = [f"the resume printed: {line}" for line in proc.errors()]
    if proc.first_step is not None and proc.first_step != resume_at:
        problems.append(f"the resume started at step {proc.first_step}, the latest checkpoint is at {resume_at}")
    if proc.first_step is None and proc.proc.poll() not in (None, 0):
        problems.append(f"the resume ended with status {proc.proc.returncode} before training")
    return problems


def _final_row(reference: FitProcess, straight: Path, killed: Path, kills: int) -> FaultRow:
    row = FaultRow("trainer", f"final weights after {kills} kills bit-equal to an uninterrupted run's (1 CPU thread)", 1, 0)
    if reference.proc.returncode != 0:
        row.fail(f"the uninterrupted run failed (status {reference.proc.returncode}): {' | '.join(reference.errors())}")
        return row
    difference = compare_final(straight, killed)
    if difference:
        row.fail(difference)
    else:
        row.passed = 1
    return row


def determinism_row(job: FitJob, workdir: Path, reference: Path) -> FaultRow:
    """Is a fit deterministic at all? A second uninterrupted run must match `reference` bit for bit."""
    row = FaultRow("trainer", "two uninterrupted fits with the same seed are bit-equal (1 CPU thread)", 1, 0)
    again = workdir / "uninterrupted-again"
    proc = run_uninterrupted(job, again)
    difference = compare_final(reference, again) if proc.proc.returncode == 0 else f"status {proc.proc.returncode}"
    if difference:
        row.fail(difference)
    else:
        row.passed = 1
    return row


def full_rows(workdir: Path) -> list[FaultRow]:
    """The issue's counts: 10 kills of one run (a synthetic dancer prepared here), plus the check
    that an uninterrupted fit is deterministic at all."""
    from shared.synthetic.body import TARGET_BODY
    from shared.synthetic.dancer import write_dance_video
    from trainer.prepare import PrepareConfig, prepare_dataset

    workdir.mkdir(parents=True, exist_ok=True)
    video = workdir / "target.mp4"
    write_dance_video(video, TARGET_BODY, num_frames=48, size=(256, 256), fps=30)
    dataset, _ = prepare_dataset(video, workdir / "dataset", PrepareConfig(), progress=False)
    job = FitJob(dataset, steps=30, checkpoint_every=3)
    rows = kill_fit(job, workdir / "kills", kills=10, seed=0)
    return rows + [determinism_row(job, workdir, workdir / "kills" / "uninterrupted")]
