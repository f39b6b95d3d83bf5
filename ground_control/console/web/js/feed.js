// The live feed: Server-Sent Events read with fetch() streaming, so the Authorization header goes
// with it (EventSource cannot send headers). Reconnects on its own; a fresh snapshot follows.
import { raw } from "./api.js";

export function parseFrames(buffer) {
  // -> [frames, rest]; a frame is {event, data} (comments and retry lines are skipped)
  const frames = [];
  let idx;
  while ((idx = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, idx);
    buffer = buffer.slice(idx + 2);
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    if (data.length) frames.push({ event, data: JSON.parse(data.join("\n")) });
  }
  return [frames, buffer];
}

export function connect(onFrame, onStatus) {
  let stopped = false;
  let bytes = 0;
  async function run() {
    while (!stopped) {
      try {
        onStatus("connecting");
        const res = await raw("/console/feed", { headers: { Accept: "text/event-stream" } });
        if (!res.ok) throw new Error(`feed answered ${res.status}`);
        onStatus("live");
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          bytes += value.byteLength;
          let frames;
          [frames, buffer] = parseFrames(buffer + decoder.decode(value, { stream: true }));
          for (const f of frames) onFrame(f.event, f.data);
        }
      } catch (err) {
        console.warn("live feed:", err);
      }
      onStatus("offline");
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  run();
  return { stop() { stopped = true; }, get bytes() { return bytes; } };
}
