"""`dance-live --serve`: the live pipeline over WebRTC, to a browser page (aiohttp + aiortc).

app.py: the routes and the server; session.py: viewer and mirror sessions; tracks.py: video
frames between pipelines and peers; static/: the page.
"""
