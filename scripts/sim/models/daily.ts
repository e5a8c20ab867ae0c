/**
 * Daily patterns shared by the models of a residential community, as functions of the
 * local hour (0 ≤ h < 24, site time zone).
 */

/** A Gaussian bump on the 24 h circle: 1 at `mu`, width `sigma` hours. */
export function bump(h: number, mu: number, sigma: number): number {
  let d = Math.abs(h - mu);
  d = Math.min(d, 24 - d);
  return Math.exp(-0.5 * (d / sigma) ** 2);
}

/**
 * Electrical load of a residential feeder as a fraction 0…1 of its peak, at local hour
 * `h`: the shape of a southern-China residential load curve in the cooling season — a
 * night trough near 04:00 held up by air conditioners, a breakfast bump, a midday
 * shoulder, and the evening peak around 20:30 (cooking, lighting, air conditioning),
 * slowly falling to midnight as bedroom air conditioners run.
 */
export function communityLoad(h: number): number {
  const l = 0.3 + 0.12 * bump(h, 7.5, 1) + 0.15 * bump(h, 12.5, 1.5) + 0.1 * bump(h, 15, 3) + 0.55 * bump(h, 20.5, 2) + 0.12 * bump(h, 23.5, 1.5);
  return Math.min(1, Math.max(0.2, l));
}
