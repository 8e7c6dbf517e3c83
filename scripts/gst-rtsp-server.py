#!/usr/bin/python3
"""A real RTSP camera for Vigil's tests: GStreamer's RTSP server (gst-rtsp-server) serving
live-encoded mounts, optionally behind Digest auth.

Mounts (all live, with the wall-clock time burned in):
  /h264   H.264 (x264, no B-frames), --h264-size (default 1920x1080), --fps, GOP = --gop frames
  /h265   H.265 (x265, open-gop=0 so key frames are IDR, no B-frames), --h265-size (1280x720)

Usage: gst-rtsp-server.py --port 8554 [--user U --password P] [--bitrate-kbps 2000]
Prints "READY <port>" on stdout once it serves. Stops on SIGTERM/SIGINT.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--gop", type=int, default=30)
    ap.add_argument("--bitrate-kbps", type=int, default=2000)
    ap.add_argument("--h264-size", default="1920x1080")
    ap.add_argument("--h265-size", default="1280x720")
    args = ap.parse_args()
    Gst.init(None)

    def src(size: str) -> str:
        w, h = size.split("x")
        return (
            f"videotestsrc is-live=true pattern=ball motion=sweep ! "
            f"video/x-raw,width={w},height={h},framerate={args.fps}/1 ! "
            f"clockoverlay time-format=\"%Y-%m-%d %H:%M:%S\" font-desc=\"Sans 24\" ! "
            f"videoconvert ! video/x-raw,format=I420"
        )

    h264 = (
        f"( {src(args.h264_size)} ! x264enc tune=zerolatency speed-preset=ultrafast "
        f"bitrate={args.bitrate_kbps} key-int-max={args.gop} bframes=0 ! "
        f"video/x-h264,profile=high ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    h265 = (
        f"( {src(args.h265_size)} ! x265enc speed-preset=ultrafast tune=zerolatency "
        f"bitrate={args.bitrate_kbps} key-int-max={args.gop} "
        f"option-string=\"open-gop=0:bframes=0\" ! "
        f"rtph265pay name=pay0 pt=96 config-interval=-1 )"
    )

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for path, launch in (("/h264", h264), ("/h265", h265)):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        if args.user:
            factory.add_role_from_structure(
                Gst.Structure.new_from_string(
                    "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
                )
            )
        mounts.add_factory(path, factory)

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_digest(args.user, args.password, token)
        server.set_auth(auth)

    if server.attach(None) == 0:
        print(f"gst-rtsp-server: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
