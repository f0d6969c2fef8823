// bench/llamacpp_run.mjs — llama.cpp (npm node-llama-cpp, CPU prebuilt binary, gpu: false) on a GGUF
// written by bench/gguf_convert.py. Token ids in, token ids out: no tokenizer in the measured path.
//
//   node bench/llamacpp_run.mjs NLC_DIR gen   MODEL.gguf IDS NEW_TOKENS [THREADS]
//       greedy continuation of IDS (comma-separated) -> one JSON line {"ids": [...]}
//   node bench/llamacpp_run.mjs NLC_DIR tokenize MODEL.gguf TEXT
//       llama.cpp's tokenization of TEXT with the GGUF's vocabulary -> {"ids": [...]}
//   node bench/llamacpp_run.mjs NLC_DIR bench MODEL.gguf THREADS PROMPT_LEN NEW_TOKENS REPS
//       REPS times (after one warm-up): prefill of PROMPT_LEN ids + NEW_TOKENS greedy tokens in a
//       cleared sequence; one JSON line with every repetition's prefill and decode ms/token, wall
//       (performance.now) and process CPU time (process.cpuUsage: user + system, all threads).
//   node bench/llamacpp_run.mjs NLC_DIR info
//       llama.cpp's system info line (its compile-time/runtime CPU features) and the binary used.
// NLC_DIR: the folder holding node_modules/node-llama-cpp (bench/install_llamacpp.sh).
// Prompt of the bench: ids (i*7919+13) % n_vocab, as bench/bench_llamacpp_am.c builds it.
import { pathToFileURL } from "node:url";
import path from "node:path";

const [nlcDir, mode, ...rest] = process.argv.slice(2);
if (!nlcDir || !mode) {
    console.error("usage: llamacpp_run.mjs NLC_DIR gen|bench|info ...");
    process.exit(2);
}
const nlc = await import(pathToFileURL(path.join(nlcDir, "node_modules/node-llama-cpp/dist/index.js")).href);
const llama = await nlc.getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false, logLevel: "error" });

if (mode === "info") {
    console.log(JSON.stringify({ systemInfo: llama.systemInfo, gpu: llama.gpu, buildType: llama.buildType, cpuMathCores: llama.cpuMathCores, llamaCppRelease: llama.llamaCppRelease }));
    process.exit(0);
}

const modelPath = rest[0];
const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });

async function newSequence(threads, contextSize) {
    const context = await model.createContext({ contextSize, batchSize: contextSize, threads, sequences: 1, flashAttention: false });
    return { context, seq: context.getSequence() };
}

// greedy: temperature 0; EOS is an ordinary token here (fixed token count, as automodel's min_new_tokens)
async function generate(seq, ids, n, stamps) {
    const out = [];
    const t0 = performance.now(), c0 = process.cpuUsage();
    for await (const tok of seq.evaluate(ids, { temperature: 0, yieldEogToken: true })) {
        out.push(tok);
        if (stamps) stamps.push([performance.now() - t0, process.cpuUsage(c0)]);
        if (out.length >= n) break;
    }
    return out;
}

if (mode === "tokenize") {
    console.log(JSON.stringify({ ids: model.tokenize(rest[1], false) }));
} else if (mode === "gen") {
    const ids = rest[1].split(",").map(Number);
    const n = Number(rest[2]);
    const threads = Number(rest[3] || 1);
    const { seq } = await newSequence(threads, Math.max(64, ids.length + n + 8));
    const out = await generate(seq, ids, n, null);
    console.log(JSON.stringify({ ids: out }));
} else if (mode === "bench") {
    const threads = Number(rest[1]), plen = Number(rest[2]), n = Number(rest[3]), reps = Number(rest[4]);
    const nv = Number(model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0); // = token_embd's rows
    if (!nv) throw new Error(`${modelPath}: cannot read the vocabulary size`);
    const ids = Array.from({ length: plen }, (_, i) => (i * 7919 + 13) % nv);
    const { seq } = await newSequence(threads, plen + n + 16);
    const runs = [];
    for (let r = 0; r <= reps; r++) {
        await seq.clearHistory();
        const st = [];
        await generate(seq, ids, n, st);
        if (r === 0) continue; // warm-up: pages in the mapping, sizes the buffers
        const cpu = (u) => (u.user + u.system) / 1000; // ms
        const [w1, c1] = st[0], [wn, cn] = st[st.length - 1];
        runs.push({
            prefill_wall_ms: w1, prefill_cpu_ms: cpu(c1),
            decode_wall_ms: (wn - w1) / (st.length - 1), decode_cpu_ms: (cpu(cn) - cpu(c1)) / (st.length - 1),
            tokens: st.length,
        });
    }
    console.log(JSON.stringify({ engine: "llama.cpp", model: modelPath, threads, prompt_len: plen, new_tokens: n, runs }));
} else {
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
process.exit(0);
