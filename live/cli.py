"""`dance-live`: puppeteer a trained target from a camera or a video file, in real time.

    dance-live --camera 0                              # latest run under ./runs, in a window
    dance-live runs/target --source me.mp4 -o out.mp4  # a file, as fast as possible
    dance-live calibrate --source me.mp4 -o me.json    # the source's normalization stats, once

The first form is the `run` command; it is what `dance-live` does unless the first argument names
another command.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click

from shared.cliutil import DanceGroup, parse_size
from shared.errors import DanceError
from shared.pose.person_lock import CHOICES as PERSON_CHOICES


class LiveGroup(DanceGroup):
    """Runs `run` when the first argument is not a command, so `dance-live [ENGINES] --camera 0`
    works without spelling `run`. (A click group cannot take an optional ENGINES argument before
    its commands: `calibrate` would be read as an ENGINES folder. The price: a folder named exactly
    `run` or `calibrate` must be written as a path, e.g. ./run.)"""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=LiveGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Real-time motion transfer: your moves, the target's looks.

    `dance-live [ENGINES] (--camera N | --source VIDEO) [...]` runs live (see `dance-live run -h`);
    `dance-live calibrate --source VIDEO` measures a source once for later sessions.
    """


def resolve_engines(path: Path | None, runs: Path = Path("runs")) -> Path:
    """The folder to load: the given one, or the latest run under ./runs (shared.runtime.run_folder's
    `latest_playable`: by its markers, the checkpoint pointer, then the engines' manifest).

    A run folder is passed as is: the runtime then runs its exported engines (RUN/engines) when
    they were exported from the run's latest checkpoint, and the checkpoint itself otherwise, so a
    stale export never silently plays an older model. A run that holds only engines gives those.
    """
    from shared.runtime.run_folder import latest_playable  # here: the run folder's module loads torch

    return path if path is not None else latest_playable(runs)


def default_generator_threads() -> int:
    """CPU threads for the generator (torch's, and each onnxruntime graph's): all CPUs but one,
    which the pose thread (MediaPipe) uses at the same time.

    torch: more threads than free cores makes its parallel regions wait for descheduled threads;
    on 2 busy cores, 2 threads measured 10-25x slower than 1. onnxruntime (2 cores, tiny int8
    engines, paced at 30 fps, bench/live.py, medians of 3 side-by-side runs): 1 thread gave p95
    latency 98 ms at 22.8 fps and 70 core-ms of CPU per frame, 2 threads 110 ms at 22.4 fps and
    80 core-ms, the pose stage slowing from 25 to 33 ms. (fp32 engines: 1 thread 13.7 fps, p95
    147 ms; 2 threads 15.0 fps, 144 ms.)
    """
    return max(1, (os.cpu_count() or 2) - 1)


def _load_engine(engines: Path | None, backend: str, device: str, threads: int | None = None):  # noqa: ANN202
    """The engine (a Engine), torch and its graphs on `threads` CPU threads (default: all
    CPUs but one)."""
    import torch

    from shared.runtime.loading import load_engine

    threads = threads or default_generator_threads()
    torch.set_num_threads(threads)
    return load_engine(resolve_engines(engines), backend, device, threads)


def _log(message: str) -> None:
    click.echo(message, err=True)


def _normalization(calibration: Path | None, full_body: bool) -> str:
    """The normalization in use, for the start line."""
    if calibration is not None:
        return f"fixed from {calibration}"
    return "adaptive from the first frame, " + ("full body" if full_body else "full body, or upper body if no legs are in view")


_engines_argument = click.argument("engines", required=False, type=click.Path(path_type=Path))
_backend_option = click.option("--backend", default="auto", show_default=True,
                               help="auto, torch, onnxruntime, onnxruntime-fp32, onnxruntime-fp16, onnxruntime-int8 or tensorrt.")
_device_option = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")


@main.command()
@_engines_argument
@click.option("--camera", type=click.IntRange(0), help="Camera index to read from.")
@click.option("--source", "video", type=click.Path(path_type=Path), help="Or a video file to read from.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the output to this mp4.")
@click.option("--window/--no-window", default=None, help="Show a window  [default: when there is a display and no --output].")
@click.option("--realtime", is_flag=True, help="Play --source at its own fps like a camera (frames may drop).")
@click.option("--background", type=click.Path(path_type=Path), help="Picture or video (looped) to put behind the target.")
@click.option("--calibration", type=click.Path(path_type=Path),
              help="Fixed source stats from `dance-live calibrate`  [default: adapt from the first frame].")
@click.option("--lost-frames", default=10, show_default=True, type=click.IntRange(0),
              help="Restart from a blank previous frame after the person was lost for more frames than this.")
@click.option("--person", default="largest", show_default=True, type=click.Choice(PERSON_CHOICES),
              help="Which person in view is locked and followed (others are ignored; c in the window chooses again).")
@click.option("--full-body", is_flag=True,
              help="Always normalize by the ankles; without it a source whose legs are not in view drives the upper body only.")
@click.option("--stall-timeout", default=5.0, show_default=True, type=click.FloatRange(0.1),
              help="Give up when the camera delivers nothing for this many seconds.")
@click.option("--max-frames", type=click.IntRange(1), help="Stop after this many source frames (files only).")
@click.option("--threads", type=click.IntRange(1),
              help="CPU threads for the generator  [default: CPUs - 1, leaving one to the pose model].")
@_backend_option
@_device_option
@click.option("--serve", is_flag=True, help="Serve a web page instead: viewers watch the source, mirrors send their camera.")
@click.option("--host", default="127.0.0.1", show_default=True, help="--serve: address to listen on (other than loopback needs a token).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="--serve: port (0: any free one).")
@click.option("--token", help="--serve: token browsers must present  [default: none on loopback, else generated and printed].")
@click.option("--max-peers", default=4, show_default=True, type=click.IntRange(1), help="--serve: most browsers at once.")
@click.option("--virtual-camera", "virtual_camera", is_flag=False, flag_value="", default=None, metavar="[DEVICE]",
              help="Also send the output to a virtual camera, for Zoom, Meet, OBS or Discord (DEVICE: e.g. /dev/video10; "
                   "default: the first one found).")
@click.option("--virtual-size", default="1280x720", show_default=True, callback=parse_size, metavar="WxH",
              help="--virtual-camera: frame size (the output is letterboxed into it).")
def run(engines: Path | None, camera: int | None, video: Path | None, output: Path | None, window: bool | None,
        realtime: bool, background: Path | None, calibration: Path | None,
        lost_frames: int, person: str, full_body: bool, stall_timeout: float, max_frames: int | None,
        threads: int | None, backend: str, device: str, serve: bool, host: str, port: int, token: str | None, max_peers: int,
        virtual_camera: str | None, virtual_size: tuple[int, int]) -> None:
    """Puppeteer ENGINES (a run or its exported engines; default: the latest run under ./runs)
    with the person in front of --camera N or in --source VIDEO.

    Window keys: v switches the view (output | source, stick figure, output), c chooses the person
    again and recalibrates, q quits.

    With --serve, a web page at http://HOST:PORT/ shows it instead: as a viewer (the server's
    --camera or --source, looped) or as a mirror (the browser's own camera; no source needed).

    With --virtual-camera, video-call apps can pick the output as a webcam (with --serve: the
    server's own --camera or --source, puppeteered from the start, viewers or not).
    """
    from live.background import Background
    from live.calibration import Calibration
    from live.capture import open_source
    from live.pipeline import LivePipeline, PipelineConfig
    from live.sinks import VideoFileSink, WindowSink, display_problem
    from live.virtual_camera import VirtualCameraConfig, VirtualCameraSink, camera_fps

    if serve:
        if output is not None or window or realtime or max_frames is not None:
            raise click.UsageError("--serve streams to browsers: it takes no --output, --window, --realtime or --max-frames")
        if camera is not None and video is not None:
            raise click.UsageError("give --camera N or --source VIDEO, not both")
        if virtual_camera is not None and camera is None and video is None:
            raise click.UsageError("--serve --virtual-camera shows the server's own source: give --camera N or --source VIDEO")
        config = PipelineConfig(lost_frames=lost_frames, stall_timeout=stall_timeout,
                                person=person, full_body=full_body)
        virtual = None if virtual_camera is None else VirtualCameraConfig(virtual_size, device=virtual_camera or None)
        _serve(engines, camera, video, calibration, background, config, threads, backend, device, host, port, token,
               max_peers, virtual)
        return
    if (camera is None) == (video is None):
        raise click.UsageError("give either --camera N or --source VIDEO")
    no_display = display_problem()
    if window and no_display:
        raise DanceError(f"--window needs a display, and none was found ({no_display}); use --output OUT.mp4 instead")
    source = open_source(camera, video, max_frames)
    sinks: list = []  # the pipeline closes them; until it runs, the finally below does
    ran = False
    try:
        if window is None:
            window = output is None and no_display is None
        if not window and output is None and virtual_camera is None:
            reason = f"no display for a window here ({no_display})" if no_display else "--no-window and no --output"
            raise DanceError(f"nothing to show: {reason}; give --output OUT.mp4 or --virtual-camera")
        if virtual_camera is not None:  # before the engine loads: a missing device is told at once
            sinks.append(VirtualCameraSink(VirtualCameraConfig(virtual_size, camera_fps(source.fps), virtual_camera or None)))
        plate = Background(background) if background is not None else None  # a bad file is told at once too
        engine = _load_engine(engines, backend, device, threads)
        stats = None
        if calibration is not None:
            loaded = Calibration.load(calibration)
            loaded.check(engine.info.image_size, source.size, calibration)
            stats = loaded.stats
        if plate is not None and not engine.info.composite:
            _log("warning: this model draws its own background (no plate compositing); --background has no effect")
        config = PipelineConfig(
            lost_frames=lost_frames, stall_timeout=stall_timeout, person=person,
            full_body=full_body, pace_fps=source.fps if realtime and not source.live else None,
        )
        pipeline = LivePipeline(engine, source, config, stats, plate, log=_log)
        if window:
            sinks.append(WindowSink(pipeline.recalibrate, pipeline.stop))
        if output is not None:
            sinks.append(VideoFileSink(output, source.fps, engine.info.image_size, follow_clock=source.live or realtime,
                                       soundtrack=video))  # a --source's audio (none from a camera)
        width, height = engine.info.image_size
        virtual = next((s for s in sinks if isinstance(s, VirtualCameraSink)), None)
        _log(f"{source.name} -> {width}x{height} {engine.backend} {engine.info.precision} engine"
             + (f" -> {output}" if output else "")
             + (f" -> virtual camera {virtual.device} at {virtual_size[0]}x{virtual_size[1]}" if virtual else "")
             + f" (normalization: {_normalization(calibration, full_body)})")
        ran = True
        try:
            pipeline.run(sinks)
        finally:
            _log(pipeline.stats.summary())
            if output is not None and output.exists():
                _log(f"wrote {output}")
    finally:
        if not ran:
            for sink in sinks:
                sink.close()
        source.close()


def _serve(engines: Path | None, camera: int | None, video: Path | None, calibration: Path | None,
           background: Path | None, config, threads: int | None, backend: str, device: str,  # noqa: ANN001 - PipelineConfig
           host: str, port: int, token: str | None, max_peers: int, virtual=None) -> None:  # noqa: ANN001 - VirtualCameraConfig
    """`--serve`: the web server over one engine (see live/server). With `virtual`, the viewer
    pipeline also feeds a virtual camera, and runs for as long as the server does."""

    from live.background import Background
    from live.calibration import Calibration
    from live.capture import CameraSource, open_source
    from live.server.app import ServerConfig, create_app, resolve_token, serve_forever
    from live.capture import LoopingVideoSource
    from live.server.session import SessionManager, SessionSettings
    from live.virtual_camera import VirtualCameraSink, camera_fps

    if calibration is not None and camera is None and video is None:
        raise DanceError("--calibration is for the server's own --camera or --source; mirror sessions calibrate themselves")
    open_own, size, fps = None, None, None
    if camera is not None or video is not None:
        probe = open_source(camera, video)  # a clear error now, not at the first viewer
        size, fps = probe.size, probe.fps
        probe.close()
        open_own = (lambda: CameraSource(camera)) if camera is not None else (lambda: LoopingVideoSource(video))
    # Opened before the engine loads (a missing device is told at once); it outlives every viewer pipeline.
    camera_sink = None if virtual is None else VirtualCameraSink(replace(virtual, fps=camera_fps(fps)))
    try:
        engine = _load_engine(engines, backend, device, threads)
        stats = None
        if calibration is not None:
            loaded = Calibration.load(calibration)
            loaded.check(engine.info.image_size, size, calibration)
            stats = loaded.stats
        if background is not None:
            Background(background).close()  # a clear error now, not in every session
        settings = SessionSettings(max_peers=max_peers, pipeline=config, calibration=stats, background=background,
                                   sinks=(camera_sink,) if camera_sink is not None else (), soundtrack=video)
        manager = SessionManager(engine, settings, open_own, log=_log)
        server = ServerConfig(host=host, port=port, token=resolve_token(host, token))
        width, height = engine.info.image_size
        watched = f"camera {camera}" if camera is not None else str(video) if video is not None else None
        _log(f"{width}x{height} {engine.backend} {engine.info.precision} engine; viewers watch "
             + (watched or "nothing (no --camera/--source: mirror sessions only)")
             + (f"; virtual camera {camera_sink.device} shows it too" if camera_sink is not None else ""))
        serve_forever(create_app(manager, server.token, server.max_body), server, log=_log)
    finally:
        if camera_sink is not None:
            camera_sink.close()


@main.command()
@_engines_argument
@click.option("--source", "video", required=True, type=click.Path(path_type=Path), help="Video of the source person.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Calibration file  [default: <video name>.calibration.json]")
@click.option("--seconds", default=3.0, show_default=True, type=click.FloatRange(0.1), help="How much of the video to use.")
@_backend_option
@_device_option
def calibrate(engines: Path | None, video: Path, output: Path | None, seconds: float, backend: str, device: str) -> None:
    """Measure the source person's floor line and height in VIDEO for ENGINES' label size.

    Film it like the live sessions (same camera, same place), standing fully in view; pass the
    file to `dance-live --calibration FILE` to skip the live calibration.
    """
    from live.calibration import calibrate_video
    from shared.io.video import probe_video

    probe_video(video)  # a clear error for anything that is not a video, before loading a model
    engine = _load_engine(engines, backend, device)
    result = calibrate_video(video, engine.info.schema_tag, engine.info.image_size, seconds)
    output = output or Path(f"{video.stem}.calibration.json")
    result.save(output)
    s = result.stats
    click.echo(f"calibrated on {s.num_frames} frames: floor y {s.ankle_far:.0f}-{s.ankle_max:.0f}, "
               f"height {s.height_far:.0f}-{s.height_close:.0f} px at {s.image_size[0]}x{s.image_size[1]}; wrote {output}")
