// A colour per run, the same in a table and in the charts beside it. A run gets the colour
// its id hashes to unless another run on the page took it first, so the first twenty runs
// never share one; past the palette, hues are spread by the golden angle.

const PALETTE = [
  "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
  "#7f7f7f", "#bcbd22", "#393b79", "#ad494a", "#637939", "#e6550d", "#7b4173", "#3182bd",
  "#31a354", "#843c39", "#d6616b", "#5254a3",
];

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function extra(i) {
  return `hsl(${Math.round((i * 137.508) % 360)}, 60%, 42%)`;
}

// Colours handed out as runs appear: a run keeps its colour for as long as the page lives,
// whatever else is added later (child runs expanded, the next page of results).
export class ColorBook {
  constructor() {
    this.colors = new Map();
    this.taken = new Set();
  }

  color(id) {
    let color = this.colors.get(id);
    if (color) return color;
    if (this.taken.size < PALETTE.length) {
      let slot = hash(id) % PALETTE.length;
      while (this.taken.has(slot)) slot = (slot + 1) % PALETTE.length;
      this.taken.add(slot);
      color = PALETTE[slot];
    } else {
      color = extra(this.colors.size);
    }
    this.colors.set(id, color);
    return color;
  }
}
