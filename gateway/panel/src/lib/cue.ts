/**
 * The audible cue of a new P1 alarm: a two-tone beep made with Web Audio (no sound file
 * to serve). Browsers allow sound only after the user has interacted with the page — the
 * sign-in counts.
 */
let ctx: AudioContext | undefined;
let muted = localStorage.getItem('steward.muted') === '1';

export function isMuted(): boolean {
  return muted;
}

export function setMuted(m: boolean): void {
  muted = m;
  localStorage.setItem('steward.muted', m ? '1' : '0');
}

export function beep(): void {
  if (muted) return;
  try {
    ctx ??= new AudioContext();
    const now = ctx.currentTime;
    for (const [i, freq] of [880, 660, 880].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, now + i * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.001, now + i * 0.25 + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + i * 0.25);
      osc.stop(now + i * 0.25 + 0.23);
    }
  } catch {
    // No audio device: the visual cue remains.
  }
}
