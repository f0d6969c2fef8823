"""bench/bench_audio.py — the reference side of bench_audio: Whisper's log-mel of a float32 waveform
(raw little-endian float32, 16 kHz) two ways, timed in process CPU time, one thread:
  numpy: transformers 4.32's own recipe (audio_utils.spectrogram: a Python loop of np.fft.rfft over
         float64 frames, complex64 storage, |X|^2, Slaney mel bank, log10; then max-8, (x+4)/4)
  torch: the same with torch.stft (center, reflect, periodic Hann) in float32
Prints one JSON line: median seconds of each and the max |diff| of each against automodel's features
(raw float32 [80, 3000] file given as the second argument)."""
import json, sys, time
import numpy as np
import torch

torch.set_num_threads(1)
wave = np.fromfile(sys.argv[1], dtype=np.float32)
ours = np.fromfile(sys.argv[2], dtype=np.float32).reshape(80, 3000)
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
N_FFT, HOP, N_SAMPLES, N_MELS, SR = 400, 160, 480000, 80, 16000


def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    m = 3.0 * f / 200.0
    logstep = 27.0 / np.log(6.4)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-300) / 1000.0) * logstep, m)


def mel_to_hz(m):
    f = 200.0 * m / 3.0
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), f)


def mel_bank():
    ff = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(8000.0), N_MELS + 2))
    fft = np.linspace(0, SR // 2, 1 + N_FFT // 2)
    diff = np.diff(ff)
    slopes = ff[None, :] - fft[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    bank = np.maximum(0.0, np.minimum(down, up))
    return bank * (2.0 / (ff[2:N_MELS + 2] - ff[:N_MELS]))[None, :]


MEL = mel_bank()
WINDOW = np.hanning(N_FFT + 1)[:-1]


def pad(w):
    w = w[:N_SAMPLES]
    return np.pad(w, (0, N_SAMPLES - len(w)))


def logmel_numpy(w):
    w = np.pad(pad(w), (N_FFT // 2, N_FFT // 2), mode="reflect").astype(np.float64)
    frames = 1 + (len(w) - N_FFT) // HOP
    spec = np.empty((frames, N_FFT // 2 + 1), dtype=np.complex64)
    buf = np.zeros(N_FFT)
    for i in range(frames):
        buf[:] = w[i * HOP:i * HOP + N_FFT]
        buf *= WINDOW
        spec[i] = np.fft.rfft(buf)
    power = (np.abs(spec, dtype=np.float64) ** 2).T
    mel = np.log10(np.maximum(1e-10, MEL.T @ power)).astype(np.float32)[:, :-1]
    mel = np.maximum(mel, mel.max() - 8.0)
    return (mel + 4.0) / 4.0


MEL_T = torch.from_numpy(MEL.T.astype(np.float32))
WIN_T = torch.hann_window(N_FFT)


def logmel_torch(w):
    x = torch.from_numpy(pad(w))
    stft = torch.stft(x, N_FFT, HOP, window=WIN_T, center=True, pad_mode="reflect", return_complex=True)
    power = stft[..., :-1].abs() ** 2
    mel = torch.clamp(MEL_T @ power, min=1e-10).log10()
    mel = torch.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).numpy()


res = {}
for name, fn in (("numpy", logmel_numpy), ("torch", logmel_torch)):
    fn(wave)
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        out = fn(wave)
        times.append(time.process_time() - t0)
    res[name] = sorted(times)[len(times) // 2]
    res[name + "_maxdiff"] = float(np.abs(out - ours).max())
print(json.dumps(res))
