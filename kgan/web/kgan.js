/* The kgan web page: samples an exported generator on this device with onnxruntime-web.
 *
 * It reads manifest.json (its `web` section: the sample spec, the latent prior, each model's
 * named inputs and outputs, where onnxruntime-web is), loads onnxruntime-web (WebGPU where the
 * browser offers it, else WebAssembly), and draws what the generator makes through one
 * registry of sample kinds, as kgan.samples does in Python.
 *
 * Test hook: `window.kgan.ready` (a promise, resolved once the models are loaded) and
 * `window.kgan.run(feeds, role = "generator")`: named inputs as (nested) arrays or
 * {data, dims}; resolves to {name: {dims, data}} with plain numbers. For a model that restores an
 * image, `window.kgan.restore()` restores the upload and `window.kgan.restored()` gives the output.
 */
(function () {
  "use strict";

  const VIDEO_FRAME_MS = 100; // as kgan.samples.VIDEO_FRAME_MS
  const WALK_STEPS = 16;
  const WALK_FRAME_MS = 120;
  const TILE_PIXELS = 64; // small images are drawn about this large, pixelated
  const GAP = 4;
  const CAPTION = 16;
  const PALETTE = ["#3656c9", "#d64545", "#2a9d5c", "#e08a1e", "#8e44ad", "#17a2b8", "#c2185b", "#6d7a1f",
    "#5d4037", "#455a64"];
  const PALETTE_NAMES = ["blue", "red", "green", "orange", "purple", "teal", "pink", "olive", "brown", "slate"];

  const $ = (id) => document.getElementById(id);
  const state = { manifest: null, web: null, spec: null, kind: null, sessions: {}, backend: null, timer: null,
    walking: false, busy: false };
  const timings = {};
  let settle;
  const ready = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  ready.catch(() => {});
  window.kgan = { ready, run, generate, last, state, timings, restore,
    restored: () => state.restored && plain({ out: state.restored }).out };

  // -- messages ------------------------------------------------------------------------------

  function setStatus(text) { $("status").textContent = text; }

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
    setStatus("The page cannot sample.");
  }

  class PageError extends Error {}

  function fromFile() { return location.protocol === "file:"; }

  const FILE_HINT = "This browser does not let a page opened from a file read the files beside it. Serve the " +
    "folder instead (for example `python -m http.server` in it, then open http://localhost:8000), or open the " +
    "page in a browser that allows it (Chromium started with --allow-file-access-from-files).";

  async function fetchOk(file) {
    let response;
    try {
      response = await fetch(file);
    } catch (error) {
      throw new PageError(fromFile() ? `Cannot read ${file}. ${FILE_HINT}`
        : `Cannot read ${file} (${error.message}): serve the whole folder that kgan web wrote.`);
    }
    if (!response.ok) {
      throw new PageError(`Cannot read ${file} (HTTP ${response.status}): serve the whole folder that kgan web ` +
        "wrote, or build it again with `kgan web EXPORT_DIR --out DIR`.");
    }
    return response;
  }

  // -- random numbers: a seeded generator of the page's own ------------------------------------

  function makeRng(seed) {
    let a = (seed >>> 0) ^ 0x9e3779b9; // mulberry32
    const uniform = () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    let spare = null;
    const normal = () => { // Box-Muller
      if (spare !== null) { const value = spare; spare = null; return value; }
      const u = 1 - uniform(), v = uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    };
    return { uniform, normal };
  }

  // -- the generator's inputs, one type a prior entry (kgan.latent) ---------------------------

  function tensor(type, data, dims) { return { type, data, dims }; }

  function slerpRow(a, b, t) {
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    const omega = Math.acos(Math.min(1, Math.max(-1, dot / (Math.sqrt(na) * Math.sqrt(nb) + 1e-12))));
    const s = Math.sin(omega);
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) {
      out[i] = s < 1e-6 ? (1 - t) * a[i] + t * b[i]
        : Math.sin((1 - t) * omega) / s * a[i] + Math.sin(t * omega) / s * b[i];
    }
    return out;
  }

  function rows(feed, fn) {
    const [n, d] = feed.dims;
    const out = new Float32Array(n * d);
    for (let r = 0; r < n; r++) out.set(fn(r * d, (r + 1) * d), r * d);
    return out;
  }

  const INPUTS = {
    normal: {
      draw(input, n, rng, options) {
        const data = new Float32Array(n * input.dim);
        for (let i = 0; i < data.length; i++) data[i] = rng.normal() * options.truncation;
        return tensor("float32", data, [n, input.dim]);
      },
      walk(a, b, t) {
        return tensor("float32", rows(a, (s, e) => slerpRow(a.data.subarray(s, e), b.data.subarray(s, e), t)), a.dims);
      },
    },
    uniform: {
      draw(input, n, rng) {
        const data = new Float32Array(n * input.dim);
        for (let i = 0; i < data.length; i++) data[i] = rng.uniform();
        return tensor("float32", data, [n, input.dim]);
      },
      walk(a, b, t) { return tensor("float32", a.data.map((v, i) => (1 - t) * v + t * b.data[i]), a.dims); },
    },
    classes: {
      draw(input, n, rng, options) {
        const data = new BigInt64Array(n);
        for (let i = 0; i < n; i++) data[i] = BigInt(options.label >= 0 ? options.label : i % input.num_classes);
        return tensor("int64", data, [n]);
      },
    },
    members: {
      draw(input, n, rng, options) {
        const data = new BigInt64Array(n);
        const total = input.weights.reduce((x, y) => x + y, 0);
        for (let i = 0; i < n; i++) {
          let k = options.member;
          if (k < 0) {
            let u = rng.uniform() * total;
            for (k = 0; k < input.weights.length - 1 && u >= input.weights[k]; k++) u -= input.weights[k];
          }
          data[i] = BigInt(k);
        }
        return tensor("int64", data, [n]);
      },
    },
  };

  // An image to restore (and inpainting's mask) comes from an upload; drawn, it is a grey image of the
  // training crops' size, which warms the session up.
  const IMAGE_INPUT = {
    draw(input, n) {
      const [h, w] = input.size;
      return tensor("float32", new Float32Array(n * h * w * input.channels), [n, h, w, input.channels]);
    },
  };
  INPUTS.image = IMAGE_INPUT;
  INPUTS.mask = IMAGE_INPUT;

  function inputType(input) {
    const type = INPUTS[input.type];
    if (!type) throw new PageError(`This page cannot draw the model's input ${input.name} (${input.type}): ` +
      "build the site again with a newer kgan.");
    return type;
  }

  function drawInputs(n, seed, options) {
    const rng = makeRng(seed);
    const feeds = {};
    for (const input of state.web.prior) feeds[input.name] = inputType(input).draw(input, n, rng, options);
    return feeds;
  }

  function walkInputs(a, b, t) {
    const feeds = {};
    for (const input of state.web.prior) {
      const type = inputType(input);
      feeds[input.name] = type.walk ? type.walk(a[input.name], b[input.name], t) : a[input.name];
    }
    return feeds;
  }

  // -- running the models -----------------------------------------------------------------------

  async function runSession(role, feeds) {
    const session = state.sessions[role];
    if (!session) throw new PageError(`This site has no ${role}.onnx.`);
    const given = {};
    for (const name of session.inputNames) {
      const feed = feeds[name];
      if (!feed) throw new PageError(`The ${role} needs the input ${name}.`);
      given[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
    }
    const results = await session.run(given);
    const out = {};
    for (const name of session.outputNames) {
      const t = results[name];
      out[name] = tensor(t.type, t.data, t.dims.slice());
    }
    return out;
  }

  function flatten(value, dims, out, depth) {
    if (Array.isArray(value) || ArrayBuffer.isView(value)) {
      if (dims.length === depth) dims.push(value.length);
      else if (dims[depth] !== value.length) throw new PageError("a ragged input: every row must be as long");
      for (const item of value) flatten(item, dims, out, depth + 1);
    } else {
      out.push(value);
    }
  }

  function toFeed(value, spec) {
    let data, dims;
    if (value && !Array.isArray(value) && value.data !== undefined) {
      data = Array.from(value.data); dims = value.dims.slice();
    } else {
      data = []; dims = [];
      flatten(value, dims, data, 0);
    }
    const typed = spec.dtype === "int64" ? BigInt64Array.from(data.map((v) => BigInt(v)))
      : spec.dtype === "int32" ? Int32Array.from(data) : Float32Array.from(data);
    return tensor(spec.dtype, typed, dims);
  }

  /** Runs a model on named inputs given as (nested) arrays or {data, dims}; plain numbers out. */
  async function run(feeds, role = "generator") {
    await ready;
    const model = state.web.models[role];
    if (!model) throw new Error(`this site has no ${role}`);
    const given = {};
    for (const [name, spec] of Object.entries(model.inputs)) {
      if (!(name in feeds)) throw new Error(`missing input ${name}: the ${role} takes ${Object.keys(model.inputs)}`);
      given[name] = toFeed(feeds[name], spec);
    }
    return plain(await runSession(role, given));
  }

  function plain(tensors) {
    const out = {};
    for (const [name, t] of Object.entries(tensors)) out[name] = { dims: t.dims, data: Array.from(t.data, Number) };
    return out;
  }

  /** What the last Generate drew: {feeds, output, scores}, as plain numbers. */
  function last() {
    const l = state.last;
    return l && { feeds: plain(l.feeds), output: plain({ [state.tensorName]: l.out })[state.tensorName],
      scores: l.marks };
  }

  async function scores(feeds, samples) {
    if (!state.sessions.discriminator) return null;
    const given = {};
    for (const name of state.sessions.discriminator.inputNames) {
      given[name] = name === state.tensorName ? samples : feeds[name];
    }
    const out = await runSession("discriminator", given);
    return Array.from(out.logit.data, Number);
  }

  // -- showing samples, one entry a kind (kgan.samples) -----------------------------------------

  const canvas = () => $("canvas");

  function toBytes(value, low, high) {
    return Math.min(255, Math.max(0, Math.round((value - low) / (high - low) * 255)));
  }

  /** ImageData of the images data[offset ...] of shape [h, w, c], c 1 or 3. */
  function imageData(data, offset, h, w, c, range) {
    const image = new ImageData(w, h);
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) image.data[4 * p + k] = toBytes(data[offset + p * c + (c === 1 ? 0 : k)], ...range);
      image.data[4 * p + 3] = 255;
    }
    return image;
  }

  function gridLayout(n, h, w, captions) {
    const scale = Math.max(1, Math.floor(TILE_PIXELS / Math.max(h, w)));
    const columns = Math.ceil(Math.sqrt(n));
    const cellW = w * scale, cellH = h * scale + (captions ? CAPTION : 0);
    return { scale, columns, cellW, cellH, width: columns * (cellW + GAP) + GAP,
      height: Math.ceil(n / columns) * (cellH + GAP) + GAP };
  }

  /** Draws tiles (ImageData) in a grid, scaled up without smoothing, a caption under each. */
  function drawGrid(tiles, captions) {
    const c = canvas();
    const { scale, columns, cellW, cellH, width, height } = gridLayout(tiles.length, tiles[0].height, tiles[0].width,
      captions);
    if (c.width !== width || c.height !== height) { c.width = width; c.height = height; }
    const ctx = c.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, width, height);
    const scratch = document.createElement("canvas");
    scratch.width = tiles[0].width; scratch.height = tiles[0].height;
    const sctx = scratch.getContext("2d");
    tiles.forEach((tile, i) => {
      const x = GAP + (i % columns) * (cellW + GAP), y = GAP + Math.floor(i / columns) * (cellH + GAP);
      sctx.putImageData(tile, 0, 0);
      ctx.drawImage(scratch, x, y, tile.width * scale, tile.height * scale);
      if (captions) {
        ctx.fillStyle = "#4a5468";
        ctx.font = "11px system-ui, sans-serif";
        ctx.fillText(captions[i], x + 1, y + tile.height * scale + 12, cellW - 2);
      }
    });
  }

  function caption(score) { return `D ${score >= 0 ? "+" : ""}${score.toFixed(2)}`; }

  function range() { return state.spec.value_range || [-1, 1]; }

  function showCanvas(text) {
    canvas().hidden = !!text;
    $("lines").hidden = !text;
  }

  const KINDS = {
    image: {
      count: 16, maxCount: 64,
      frames(out) { // one frame: the images
        const [n, h, w, c] = out.dims;
        const size = h * w * c;
        return [Array.from({ length: n }, (_, i) => imageData(out.data, i * size, h, w, c, range()))];
      },
      show(out, marks) { showCanvas(false); drawGrid(this.frames(out)[0], marks && marks.map(caption)); return 0; },
      walkFrame(out) { drawGrid(this.frames(out)[0], null); },
    },
    restored: {
      count: 1, maxCount: 1, restores: true,
      show(out) { showCanvas(false); drawGrid(KINDS.image.frames(out)[0], null); return 0; },
      walkFrame() {},
    },
    video: {
      count: 8, maxCount: 16, animated: true,
      frames(out) { // frame t of every clip
        const [n, frames, h, w, c] = out.dims;
        const size = h * w * c;
        return Array.from({ length: frames }, (_, t) => Array.from({ length: n },
          (_, i) => imageData(out.data, (i * frames + t) * size, h, w, c, range())));
      },
      show(out, marks) {
        showCanvas(false);
        const frames = this.frames(out), captions = marks && marks.map(caption);
        let t = 0;
        drawGrid(frames[0], captions);
        state.timer = setInterval(() => { t = (t + 1) % frames.length; drawGrid(frames[t], captions); }, VIDEO_FRAME_MS);
        return frames.length;
      },
      walkFrame(out, step) { const frames = this.frames(out); drawGrid(frames[step % frames.length], null); },
    },
    vector: {
      count: 1000, maxCount: 5000, cloud: true,
      extent(data) {
        let low = Infinity, high = -Infinity;
        for (const v of data) { if (Number.isFinite(v)) { low = Math.min(low, v); high = Math.max(high, v); } }
        if (!(high > low)) { low -= 1; high += 1; }
        const pad = 0.08 * (high - low);
        return [low - pad, high + pad];
      },
      show(out, marks, feeds, extent) {
        showCanvas(false);
        const c = canvas();
        c.width = 480; c.height = 480;
        const ctx = c.getContext("2d");
        const [n, d] = out.dims;
        const [low, high] = extent || this.extent(out.data);
        const px = (v) => ((v - low) / (high - low)) * (c.width - 20) + 10;
        ctx.fillStyle = "#ffffff";
        ctx.fillRect(0, 0, c.width, c.height);
        ctx.strokeStyle = "#d0d4de";
        ctx.strokeRect(10, 10, c.width - 20, c.height - 20);
        const groupName = feeds && (feeds.member ? "member" : feeds.label ? "label" : null);
        const group = groupName && feeds[groupName];
        let lowScore = Infinity, highScore = -Infinity;
        if (marks) for (const s of marks) { lowScore = Math.min(lowScore, s); highScore = Math.max(highScore, s); }
        ctx.globalAlpha = 0.6;
        for (let i = 0; i < n; i++) {
          if (marks && !group) {
            const f = highScore > lowScore ? (marks[i] - lowScore) / (highScore - lowScore) : 0.5;
            ctx.fillStyle = `hsl(${Math.round(240 - 240 * f)}, 70%, 45%)`;
          } else {
            ctx.fillStyle = group ? PALETTE[Number(group.data[i]) % PALETTE.length] : PALETTE[0];
          }
          const x = px(out.data[i * d]), y = c.height - px(d > 1 ? out.data[i * d + 1] : 0);
          ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
        }
        ctx.globalAlpha = 1;
        const groups = groupName && state.web.prior.find((i) => i.name === groupName);
        const count = groups ? (groups.num_classes || groups.weights.length) : 0;
        const colour = group ? `Colour: ${groupName} ${Array.from({ length: Math.min(count, PALETTE.length) },
          (_, k) => `${k} ${PALETTE_NAMES[k]}`).join(", ")}${count > PALETTE.length ? ", then again" : ""}. `
          : marks ? `Colour: the discriminator's logit, blue ${lowScore.toFixed(2)} to red ${highScore.toFixed(2)}. ` : "";
        const judged = group && marks ? `The discriminator's logit spans ${lowScore.toFixed(2)} to ` +
          `${highScore.toFixed(2)}. ` : "";
        $("legend").textContent = `${colour}${judged}Axes: features 1 and 2, ${low.toFixed(2)} to ${high.toFixed(2)}.`;
        return 0;
      },
      walkFrame(out, step, feeds, extent) { this.show(out, null, feeds, extent); },
    },
    tokens: {
      count: 16, maxCount: 64, text: true,
      lines(out) {
        const [n, length] = out.dims;
        const vocabulary = state.spec.vocabulary, separator = state.spec.separator || "";
        const stop = vocabulary[0] === "";
        return Array.from({ length: n }, (_, i) => {
          const words = [];
          for (let j = 0; j < length; j++) {
            const id = Number(out.data[i * length + j]);
            if (stop && id === 0) break;
            words.push(vocabulary[id] === undefined ? "?" : vocabulary[id]);
          }
          return words.join(separator);
        });
      },
      show(out, marks) {
        showCanvas(true);
        const list = $("lines");
        list.replaceChildren(...this.lines(out).map((line, i) => {
          const item = document.createElement("li");
          item.textContent = line || "(empty)";
          if (marks) {
            const score = document.createElement("span");
            score.className = "score";
            score.textContent = caption(marks[i]);
            item.append(score);
          }
          return item;
        }));
        return 0;
      },
      walkFrame(out) { this.show(out, null); },
    },
  };

  // -- the controls -----------------------------------------------------------------------------

  function stopTimer() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  function readInt(id, low, high, what) {
    const value = Number($(id).value);
    if (!Number.isInteger(value) || value < low || value > high) {
      throw new PageError(`${what} must be a whole number from ${low} to ${high}.`);
    }
    return value;
  }

  function options() {
    const truncation = Number($("truncation").value);
    if (!(truncation > 0 && truncation <= 2)) throw new PageError("Truncation must be a number above 0, at most 2.");
    return {
      seed: readInt("seed", 0, 2 ** 31 - 1, "Seed"),
      count: readInt("count", 1, state.kind.maxCount, "Count"),
      truncation,
      label: $("label-field").hidden ? -1 : Number($("label").value),
      member: $("member-field").hidden ? -1 : Number($("member").value),
    };
  }

  async function guarded(work) {
    if (state.busy) return;
    state.busy = true;
    $("error").hidden = true;
    try {
      await work();
    } catch (error) {
      showError(error instanceof PageError ? error.message : `Sampling failed: ${error.message || error}`);
    } finally {
      state.busy = false;
    }
  }

  /** Draws and shows `count` samples for the controls' seed; resolves to the seconds it took. */
  async function generate() {
    await ready;
    let took = null;
    await guarded(async () => {
      stopWalk();
      stopTimer();
      const o = options();
      const start = performance.now();
      const feeds = drawInputs(o.count, o.seed, o);
      const out = (await runSession("generator", feeds))[state.tensorName];
      const marks = await scores(feeds, out);
      took = (performance.now() - start) / 1000;
      state.last = { feeds, out, marks };
      $("legend").textContent = "";
      const frames = state.kind.show(out, marks, feeds);
      if (timings.first_sample_ms === undefined) timings.first_sample_ms = performance.now();
      const what = frames ? `${o.count} clips of ${frames} frames` : `${o.count} samples`;
      setStatus(`${what} in ${(took * 1000).toFixed(0)} ms on ${state.backend.label}` +
        (marks ? "; D is the discriminator's logit (higher: judged more real)." : "."));
    });
    return took;
  }

  const MAX_SIDE = 1024; // larger uploads: `kgan generate --input`, which tiles them

  function reflect(i, n) { // numpy's "reflect" padding
    if (n === 1) return 0;
    const period = 2 * (n - 1);
    i = ((i % period) + period) % period;
    return i < n ? i : period - i;
  }

  /** An uploaded file as float32 [1, H, W, C] in [-1, 1] (C: the model's; colour averaged for grey). */
  async function readUpload(file, channels) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (error) {
      throw new PageError(`${file.name} is not an image this browser can read: upload a PNG or JPEG.`);
    }
    const c = document.createElement("canvas");
    c.width = bitmap.width; c.height = bitmap.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
    const h = c.height, w = c.width, data = new Float32Array(h * w * channels);
    for (let p = 0; p < h * w; p++) {
      if (channels === 1) data[p] = (rgba[4 * p] + rgba[4 * p + 1] + rgba[4 * p + 2]) / 3 / 127.5 - 1;
      else for (let k = 0; k < 3; k++) data[3 * p + k] = rgba[4 * p + k] / 127.5 - 1;
    }
    return tensor("float32", data, [1, h, w, channels]);
  }

  /** Pads [1, h, w, c] by reflection to [1, H, W, c]. */
  function padded(t, H, W) {
    const [, h, w, c] = t.dims, out = new Float32Array(H * W * c);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const from = (reflect(y, h) * w + reflect(x, w)) * c;
        for (let k = 0; k < c; k++) out[(y * W + x) * c + k] = t.data[from + k];
      }
    }
    return tensor("float32", out, [1, H, W, c]);
  }

  function cropped(t, H, W) {
    const [, , w, c] = t.dims, out = new Float32Array(H * W * c);
    for (let y = 0; y < H; y++) out.set(t.data.subarray(y * w * c, (y * w + W) * c), y * W * c);
    return tensor("float32", out, [1, H, W, c]);
  }

  /** Restores the uploaded image: input | the browser's smooth upscaling or the input | restored. */
  async function restore() {
    await ready;
    await guarded(async () => {
      const file = $("upload").files[0];
      if (!file) throw new PageError("Choose an image to restore first.");
      const input = state.web.prior.find((i) => i.type === "image");
      const task = input.task || "paired", factor = task.startsWith("superres:") ? Number(task.split(":")[1]) : 1;
      const image = await readUpload(file, input.channels);
      const [, h, w, c] = image.dims;
      const smallest = Math.max(input.multiple, 1);
      if (Math.min(h, w) < smallest) {
        throw new PageError(`${file.name} is ${w}x${h}: this model needs at least ${smallest} pixels a side.`);
      }
      if (Math.max(h, w) > MAX_SIDE) {
        throw new PageError(`${file.name} is ${w}x${h}: the page restores up to ${MAX_SIDE} pixels a side; ` +
          "`kgan generate --input` restores any size in tiles.");
      }
      const H = Math.ceil(h / input.multiple) * input.multiple, W = Math.ceil(w / input.multiple) * input.multiple;
      const feeds = { image: padded(image, H, W) };
      if (state.web.prior.some((i) => i.type === "mask")) {
        if (task !== "inpaint:lower") throw new PageError("This model inpaints rectangles it is told of: use kgan generate --input with --mask.");
        const mask = new Float32Array(H * W);
        for (let y = Math.floor(h / 2); y < H; y++) mask.fill(1, y * W, (y + 1) * W);
        for (let p = 0; p < H * W; p++) if (mask[p]) for (let k = 0; k < c; k++) feeds.image.data[p * c + k] = 0;
        feeds.mask = tensor("float32", mask, [1, H, W, 1]);
      }
      const start = performance.now();
      const out = cropped((await runSession("generator", feeds))[state.tensorName], h * factor, w * factor);
      const took = performance.now() - start;
      state.restored = out;
      drawRestored(cropped(feeds.image, h, w), out, factor);
      setStatus(`Restored ${file.name} (${w}x${h}, ${task}) to ${w * factor}x${h * factor} in ` +
        `${took.toFixed(0)} ms on ${state.backend.label}.`);
    });
  }

  function drawRestored(input, out, factor) {
    const [, h, w, c] = input.dims, [, H, W] = out.dims;
    const panels = [imageData(input.data, 0, h, w, c, range()), imageData(out.data, 0, H, W, c, range())];
    const scale = Math.max(1, Math.floor(256 / Math.max(H, W)));
    const cv = canvas(), cellW = W * scale;
    cv.width = 3 * cellW + 4 * GAP; cv.height = H * scale + 2 * GAP + CAPTION;
    const ctx = cv.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, cv.width, cv.height);
    const scratch = document.createElement("canvas");
    const draw = (panel, x, smooth) => {
      scratch.width = panel.width; scratch.height = panel.height;
      scratch.getContext("2d").putImageData(panel, 0, 0);
      ctx.imageSmoothingEnabled = smooth;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(scratch, x, GAP, cellW, H * scale);
    };
    draw(panels[0], GAP, false);
    draw(panels[0], 2 * GAP + cellW, true);
    draw(panels[1], 3 * GAP + 2 * cellW, false);
    ctx.fillStyle = "#4a5468";
    ctx.font = "11px system-ui, sans-serif";
    const captions = ["input", factor > 1 ? "smooth upscaling" : "input, smoothed", "restored"];
    captions.forEach((text, i) => ctx.fillText(text, GAP + i * (cellW + GAP), H * scale + GAP + 12));
    $("legend").textContent = "";
  }

  function stopWalk() {
    if (!state.walking) return;
    state.walking = false;
    stopTimer();
    $("walk").textContent = "Latent walk";
  }

  /** A walk from the seed's latents to the next seed's, played back and forth. */
  async function walk() {
    if (state.walking) { stopWalk(); return; }
    await guarded(async () => {
      stopTimer();
      const o = options();
      const n = state.kind.cloud ? o.count : Math.min(o.count, 16);
      const a = drawInputs(n, o.seed, o), b = drawInputs(n, o.seed + 1, o);
      const steps = [];
      for (let s = 0; s < WALK_STEPS; s++) {
        const feeds = walkInputs(a, b, s / (WALK_STEPS - 1));
        steps.push({ feeds, out: (await runSession("generator", feeds))[state.tensorName] });
      }
      let extent = null;
      if (state.kind.cloud) {
        const all = [];
        for (const step of steps) for (const v of step.out.data) all.push(v);
        extent = state.kind.extent(all);
      }
      state.walking = true;
      $("walk").textContent = "Stop";
      let tick = 0;
      const order = [...steps.keys(), ...[...steps.keys()].reverse().slice(1, -1)];
      const show = () => {
        const step = steps[order[tick % order.length]];
        state.kind.walkFrame(step.out, tick, step.feeds, extent);
        tick++;
      };
      show();
      state.timer = setInterval(show, WALK_FRAME_MS);
      setStatus(`A walk of ${WALK_STEPS} steps from seed ${o.seed} to seed ${o.seed + 1} on ${state.backend.label}.`);
    });
  }

  // -- the model card ---------------------------------------------------------------------------

  function describeInput(input) {
    const what = input.num_classes ? `${input.num_classes} classes` : input.weights ? `${input.weights.length} members`
      : input.dim ? `${input.dim} ${input.type}` : input.type;
    return `${input.name}: ${what}`;
  }

  function showCard() {
    const m = state.manifest, web = state.web, card = web.card || {};
    const spec = state.spec;
    const rows = [
      ["Run", m.run || "—"],
      ["Preset", m.preset || card.preset || "custom"],
      ["Data", m.dataset || "—"],
      ["Samples", `${spec.kind}, ${spec.shape.join(" × ")}${spec.value_range ? `, values ${spec.value_range.join(" to ")}` : ""}`],
      ["Inputs", web.prior.map(describeInput).join("; ")],
    ];
    if (spec.vocabulary) rows.push(["Vocabulary", `${spec.vocabulary.length} tokens`]);
    const memberInput = web.prior.find((i) => i.type === "members");
    if (memberInput) rows.push(["Mixture weights", memberInput.weights.map((w) => w.toFixed(3)).join(", ")]);
    const parity = (m.parity || {}).generator;
    if (parity) {
      const worst = Math.max(...Object.entries(parity).filter(([k]) => k.startsWith("keras_vs")).map(([, v]) => v));
      rows.push(["Export parity", `max |diff| ${worst.toExponential(1)} against Keras`]);
    }
    rows.push(["Discriminator", web.models.discriminator
      ? (web.calibration ? `scores samples (calibrated, ECE ${Number(web.calibration.ece).toFixed(3)})` : "scores samples")
      : "not exported"]);
    if (m.ema) rows.push(["EMA", String(m.ema)]);
    rows.push(["Exported by", `kgan ${m.kgan_version || card.kgan_version || "?"}, opset ${m.opset || card.opset || "?"}`]);
    rows.push(["Runtime", `onnxruntime-web ${web.ort_web_version}, ${state.backend ? state.backend.label : "loading"}`]);
    if (state.backend && state.backend.note) rows.push(["Backend note", state.backend.note]);
    if (timings.ready_ms !== undefined) rows.push(["Loaded in", `${(timings.ready_ms / 1000).toFixed(2)} s`]);
    $("card-list").replaceChildren(...rows.flatMap(([k, v]) => {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k; dd.textContent = v;
      return [dt, dd];
    }));
  }

  function setUpControls() {
    const kind = state.kind;
    if (kind.restores) { // an image in, not latents: the upload replaces the sampling controls
      for (const id of ["seed", "count", "truncation"]) $(id).parentElement.hidden = true;
      $("generate").hidden = true; $("walk").hidden = true;
      $("upload-field").hidden = false; $("restore").hidden = false;
      $("restore").addEventListener("click", () => restore());
      $("restore").disabled = false;
      return;
    }
    $("count").max = String(kind.maxCount);
    $("count").value = String(kind.count);
    const classes = state.web.prior.find((i) => i.type === "classes");
    if (classes) {
      $("label").replaceChildren(new Option("every class in turn", "-1"),
        ...Array.from({ length: classes.num_classes }, (_, k) => new Option(String(k), String(k))));
      $("label-field").hidden = false;
    }
    const members = state.web.prior.find((i) => i.type === "members");
    if (members) {
      $("member").replaceChildren(new Option("mixture (by weight)", "-1"),
        ...members.weights.map((w, k) => new Option(`member ${k} (${w.toFixed(2)})`, String(k))));
      $("member-field").hidden = false;
    }
    $("generate").addEventListener("click", () => generate());
    $("walk").addEventListener("click", () => walk());
    $("generate").disabled = false;
    $("walk").disabled = false;
  }

  // -- loading ----------------------------------------------------------------------------------

  function loadScript(url) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = resolve;
      script.onerror = () => reject(new PageError(`Cannot load onnxruntime-web from ${url}: ` +
        (url.startsWith("http") && !url.startsWith(location.origin)
          ? "the visitor is offline or the CDN is blocked. Build the site with --ort-dir for a copy of its own."
          : "the site's ort/ folder is incomplete; build the site again.")));
      document.head.append(script);
    });
  }

  async function chooseBackend() {
    const asked = new URLSearchParams(location.search).get("backend") || "auto";
    if (asked === "wasm") return { bundle: "wasm", note: "WebAssembly, as the address asks" };
    let adapter = null;
    if (navigator.gpu) {
      try { adapter = await navigator.gpu.requestAdapter(); } catch (error) { adapter = null; }
    }
    if (adapter) return { bundle: "webgpu", note: "" };
    return { bundle: "wasm", note: asked === "webgpu" ? "WebGPU was asked for, but this browser offers none" : "" };
  }

  async function modelBytes(role) {
    const file = state.web.models[role].file;
    const bytes = new Uint8Array(await (await fetchOk(file)).arrayBuffer());
    const expected = (state.manifest.files || {})[file];
    if (expected && window.crypto && crypto.subtle) {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      if (hex !== expected) {
        throw new PageError(`${file} is damaged: it does not match the export it came from (SHA-256 differs). ` +
          "Build the site again with `kgan web EXPORT_DIR --out DIR`.");
      }
    }
    return bytes;
  }

  async function createSessions(files, providers) {
    const sessions = {};
    for (const [role, bytes] of Object.entries(files)) {
      try {
        sessions[role] = await ort.InferenceSession.create(bytes, { executionProviders: providers, logSeverityLevel: 3 });
      } catch (error) {
        const why = String(error.message || error).split("\n")[0].slice(0, 200);
        throw new PageError(`${state.web.models[role].file} cannot be loaded by onnxruntime-web (${why}): the file ` +
          "is damaged or not a kgan export. Export again with `kgan export` and rebuild the site.");
      }
    }
    return sessions;
  }

  async function warmUp() {
    const feeds = drawInputs(1, 0, { truncation: 1, label: -1, member: -1 });
    const out = await runSession("generator", feeds);
    await scores(feeds, out[state.tensorName]);
  }

  async function init() {
    const manifest = await (await fetchOk("manifest.json")).json();
    if (!manifest.web) throw new PageError("manifest.json has no web section: build the site with `kgan web`.");
    state.manifest = manifest;
    state.web = manifest.web;
    state.spec = manifest.web.sample_spec;
    state.kind = KINDS[state.spec.kind];
    if (!state.kind) {
      throw new PageError(`This page cannot show ${state.spec.kind} samples: build the site again with a newer kgan.`);
    }
    state.tensorName = state.web.tensor_name;
    $("title").textContent = `kgan · ${manifest.run || "generator"}`;
    document.title = `kgan · ${manifest.run || "generator"}`;
    showCard();
    timings.manifest_ms = performance.now();

    const files = {};
    for (const role of Object.keys(state.web.models)) files[role] = await modelBytes(role);
    const choice = await chooseBackend();
    const base = new URL(state.web.ort, location.href).href;
    const bundle = choice.bundle === "webgpu" ? "ort.webgpu.min.js" : "ort.wasm.min.js";
    await loadScript(base + bundle);
    timings.ort_ms = performance.now();
    ort.env.wasm.wasmPaths = base;
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    ort.env.logLevel = "error";
    const threads = ort.env.wasm.numThreads;
    const wasmLabel = `WebAssembly (${threads} thread${threads > 1 ? "s" : ""})`;
    if (choice.bundle === "webgpu") {
      try {
        state.sessions = await createSessions(files, ["webgpu"]);
        state.backend = { name: "webgpu", label: "WebGPU", note: choice.note };
        await warmUp();
      } catch (error) {
        state.backend = { name: "wasm", label: wasmLabel,
          note: `WebGPU could not run this model (${String(error.message || error).slice(0, 160)}); using WebAssembly` };
        state.sessions = {};
      }
    }
    if (!state.sessions.generator) {
      state.sessions = await createSessions(files, ["wasm"]);
      state.backend = state.backend || { name: "wasm", label: wasmLabel, note: choice.note };
      await warmUp();
    }
    timings.ready_ms = performance.now();
    showCard();
    setUpControls();
    settle.resolve();
    if (state.kind.restores) setStatus("Choose an image and press Restore.");
    else await generate();
  }

  window.addEventListener("DOMContentLoaded", () => {
    init().catch((error) => {
      const message = error instanceof PageError ? error.message : `The page failed to start: ${error.message || error}`;
      showError(message);
      settle.reject(new Error(message));
    });
  });
})();
