/**
 * The sites "map": a tile grid in which each site sits in the cell nearest to where its
 * coordinates put it (north up, east right), one site per cell, so hundreds of sites stay
 * readable where markers on a real map would pile up in one city. No map tiles, no
 * network: the dashboard runs offline. Sites without coordinates are grouped by region.
 */

/** The fields of a site (api.ts `Site`) the layout reads; no DOM types, so tests import this file. */
interface Site {
  readonly id: string;
  readonly name: string;
  readonly region?: string;
  readonly regionName?: string;
  readonly lat?: number;
  readonly lon?: number;
}

export interface Cell<T> {
  readonly item: T;
  readonly col: number;
  readonly row: number;
}
export interface GridLayout<T> {
  readonly cols: number;
  readonly rows: number;
  readonly cells: readonly Cell<T>[];
  /** Sites without lat/lon, in input order. */
  readonly unplaced: readonly T[];
}

const hasPosition = (s: Pick<Site, 'lat' | 'lon'>): s is { lat: number; lon: number } => typeof s.lat === 'number' && typeof s.lon === 'number';

/**
 * Places the sites that have coordinates on a grid of at most `maxCols` columns whose shape
 * follows their bounding box; each goes to its ideal cell or, when taken, the nearest free
 * one. Deterministic: sites are placed north to south, then west to east, then by id.
 */
export function layoutGrid<T extends Pick<Site, 'id' | 'lat' | 'lon'>>(sites: readonly T[], maxCols = 12): GridLayout<T> {
  const placed = sites.filter(hasPosition) as (T & { lat: number; lon: number })[];
  const unplaced = sites.filter((s) => !hasPosition(s));
  const n = placed.length;
  if (n === 0) return { cols: 0, rows: 0, cells: [], unplaced };
  const lats = placed.map((s) => s.lat);
  const lons = placed.map((s) => s.lon);
  const minLat = Math.min(...lats);
  const maxLat = Math.max(...lats);
  const minLon = Math.min(...lons);
  const maxLon = Math.max(...lons);
  // East-west distances shrink with latitude: compare spans as on the ground.
  const width = Math.max((maxLon - minLon) * Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180), 1e-9);
  const height = Math.max(maxLat - minLat, 1e-9);
  const aspect = Math.min(4, Math.max(0.5, width / height));
  // About twice as many cells as sites leaves room to keep neighbours apart.
  let cols = Math.min(maxCols, Math.max(Math.min(n, 3), Math.ceil(Math.sqrt(2 * n * aspect))));
  if (n === 1) cols = 1;
  let rows = Math.max(1, Math.ceil((2 * n) / cols));
  if (n === 1) rows = 1;
  while (rows * cols < n) rows++;
  const taken = new Set<number>();
  const order = [...placed].sort((a, b) => b.lat - a.lat || a.lon - b.lon || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const cells: Cell<T>[] = [];
  for (const s of order) {
    const ic = maxLon === minLon ? (cols - 1) / 2 : ((s.lon - minLon) / (maxLon - minLon)) * (cols - 1);
    const ir = maxLat === minLat ? (rows - 1) / 2 : ((maxLat - s.lat) / (maxLat - minLat)) * (rows - 1);
    let best = -1;
    let bestD = Infinity;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const k = r * cols + c;
        if (taken.has(k)) continue;
        const d = (c - ic) ** 2 + (r - ir) ** 2;
        if (d < bestD) {
          bestD = d;
          best = k;
        }
      }
    }
    taken.add(best);
    cells.push({ item: s, col: best % cols, row: Math.floor(best / cols) });
  }
  return { cols, rows, cells, unplaced };
}

/** Sites grouped by region (name order; sites without a region last, under `null`). */
export function byRegion<T extends Pick<Site, 'region' | 'regionName' | 'name'>>(sites: readonly T[]): { region: string | null; name: string | null; sites: T[] }[] {
  const groups = new Map<string | null, { region: string | null; name: string | null; sites: T[] }>();
  for (const s of sites) {
    const key = s.region ?? null;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { region: key, name: s.regionName ?? key, sites: [] }));
    g.sites.push(s);
  }
  return [...groups.values()].sort((a, b) => (a.region === null ? 1 : b.region === null ? -1 : (a.name ?? '').localeCompare(b.name ?? '')));
}
