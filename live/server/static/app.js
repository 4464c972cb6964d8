// dancenow live page: one WebRTC connection to the server, as a viewer or a mirror.
// No trickle ICE: the offer is sent once every local candidate is in it, and the answer
// comes back complete, so one POST /offer does the whole signalling.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const HUD_MS = 500;

let pc = null;
let session = null;
let camera = null;
let hudTimer = null;
let remote = null; // the server's stream: the video, and (viewers of a file with sound) its audio

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function authHeaders() {
  return token ? { Authorization: "Bearer " + token } : {};
}

function gatheringComplete(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (peer.iceGatheringState === "complete") {
        peer.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
    };
    peer.addEventListener("icegatheringstatechange", check);
  });
}

// Put the chosen codec first; the server answers with the first one it supports.
function preferCodec(transceiver, name) {
  if (!name || !transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
  const wanted = codecs.filter((c) => c.mimeType.toLowerCase() === "video/" + name);
  if (wanted.length === 0) {
    setStatus(name + " is not available in this browser; using the default", true);
    return;
  }
  transceiver.setCodecPreferences([...wanted, ...codecs.filter((c) => !wanted.includes(c))]);
}

async function start() {
  const mode = document.querySelector("input[name=mode]:checked").value;
  $("start").disabled = true;
  $("stop").disabled = false;
  setStatus("connecting…");
  pc = new RTCPeerConnection({ iceServers: [] }); // no STUN: the server is on this network
  // Both tracks go into one element: it plays them in sync (muted until the user unmutes: browsers
  // refuse to autoplay sound).
  remote = new MediaStream();
  pc.addEventListener("track", (event) => {
    remote.addTrack(event.track);
    $("output").srcObject = remote;
    if (event.track.kind === "audio") $("sound").hidden = false;
  });
  pc.addEventListener("connectionstatechange", () => {
    if (!pc) return;
    setStatus(mode + ": " + pc.connectionState, pc.connectionState === "failed");
  });

  let transceiver;
  if (mode === "mirror") {
    if (!navigator.mediaDevices) throw new Error("no camera access: browsers allow it on https:// or http://localhost only");
    // {video: true}: explicit width/height constraints would crop the camera's picture.
    camera = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    $("preview").srcObject = camera;
    $("preview-box").hidden = false;
    transceiver = pc.addTransceiver(camera.getVideoTracks()[0], { direction: "sendrecv", streams: [camera] });
    // Under CPU load the browser would rather lower the frame rate than send a smaller picture.
    const params = transceiver.sender.getParameters();
    params.degradationPreference = "maintain-resolution";
    await transceiver.sender.setParameters(params).catch(() => {});
  } else {
    transceiver = pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" }); // the source's soundtrack, if it has one
  }
  preferCodec(transceiver, $("codec").value);

  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  const response = await fetch("offer", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type, mode }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || "the server answered " + response.status);
  session = answer.session;
  await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
  hudTimer = setInterval(updateHud, HUD_MS);
}

function stop() {
  clearInterval(hudTimer);
  hudTimer = null;
  if (pc) pc.close();
  pc = null;
  session = null;
  if (camera) camera.getTracks().forEach((t) => t.stop());
  camera = null;
  $("output").srcObject = null;
  remote = null;
  setMuted(true);
  $("sound").hidden = true;
  $("preview-box").hidden = true;
  $("hud").textContent = "";
  $("start").disabled = false;
  $("stop").disabled = true;
  setStatus("idle");
}

function setMuted(muted) {
  $("output").muted = muted;
  $("sound").textContent = muted ? "sound off: unmute" : "sound on: mute";
}

function audioTracks() {
  return remote ? remote.getAudioTracks().map((t) => ({ readyState: t.readyState, muted: t.muted })) : [];
}

// Received audio so far (packets, samples, energy) from the connection's statistics; null without audio.
async function audioReceived() {
  if (!pc) return null;
  const report = await pc.getStats();
  let found = null;
  report.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") {
      found = { packets: r.packetsReceived || 0, samples: r.totalSamplesReceived || 0, energy: r.totalAudioEnergy || 0 };
    }
  });
  return found;
}

function decodedFrames() {
  const video = $("output");
  return video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
}

// The codec the received video arrived in ("VP8", "H264"), from the connection's statistics.
async function receivingCodec() {
  if (!pc) return null;
  const report = await pc.getStats();
  let codecId = null;
  report.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") codecId = r.codecId;
  });
  const codec = codecId ? report.get(codecId) : null;
  return codec ? codec.mimeType.replace("video/", "") : null;
}

const ms = (v) => (v === null || v === undefined ? "-" : v.toFixed(0));

async function updateHud() {
  if (!session) return;
  const video = $("output");
  const codec = (await receivingCodec().catch(() => null)) || "?";
  const lines = [`received ${video.videoWidth}x${video.videoHeight} ${codec}, ${decodedFrames()} frames decoded`];
  try {
    const response = await fetch("stats?session=" + encodeURIComponent(session), { headers: authHeaders() });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.status);
    const s = data.stats;
    if (s) {
      lines.unshift(
        `${s.recent_fps.toFixed(1)} fps   latency ${ms(s.latency_ms.p50)} / p95 ${ms(s.latency_ms.p95)} ms`,
        `frames ${s.frames_out}   poses ${s.poses_found}   dropped ${s.dropped_total}`,
        `normalization: ${s.normalization}`,
      );
      if (s.calibrating) lines.push("MEASURING THE PERSON - stand fully in view");
    }
  } catch (err) {
    lines.push("stats: " + err.message);
  }
  $("hud").textContent = lines.join("\n");
}

$("start").addEventListener("click", () => {
  start().catch((err) => {
    const message = err.message || String(err);
    stop();
    setStatus(message, true);
  });
});
$("stop").addEventListener("click", stop);
$("sound").addEventListener("click", () => setMuted(!$("output").muted));

// For scripts and tests: the session id, the decoded-frame count, the codec received, the audio.
window.dance = { session: () => session, decodedFrames, codec: receivingCodec, audioTracks, audioReceived,
  muted: () => $("output").muted };
