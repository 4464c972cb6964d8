"""`dance-live --serve`: the live pipeline over WebRTC, to a browser page (aiohttp + aiortc).

A thin wrapper over the live library: app.py: the routes and the server; session.py: viewer and
mirror sessions; tracks.py: video frames between pipelines and peers; client.py: a Python peer
(tests, benchmarks); static/: the page. The pipeline on its thread (live/runner.py), the shared
engine's lock (live/serialized_engine.py) and the looping file source (live/capture.py) are the
library's, usable without a server.
"""
