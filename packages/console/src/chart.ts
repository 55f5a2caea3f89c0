// A per-minute chart of stored vs failed events (uPlot: small, draws on a canvas).
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Minute { minute: string; stored: number; failed: number; duplicate: number }

/** One point per minute of the last hour, zeros where nothing came (the API lists only minutes with counts). */
export function hourSeries(minutes: Minute[], nowMs = Date.now()): [number[], number[], number[]] {
  const byMinute = new Map(minutes.map((m) => [Math.floor(Date.parse(m.minute) / 60_000), m]));
  const last = Math.floor(nowMs / 60_000);
  const xs: number[] = [], stored: number[] = [], failed: number[] = [];
  for (let m = last - 59; m <= last; m++) {
    const row = byMinute.get(m);
    xs.push(m * 60);
    stored.push((row?.stored ?? 0) / 60);
    failed.push((row?.failed ?? 0) / 60);
  }
  return [xs, stored, failed];
}

export function RateChart({ minutes }: { minutes: Minute[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    const data = hourSeries(minutes);
    if (!plot.current) {
      plot.current = new uPlot({
        width: Math.max(320, (box.current!.clientWidth || 640) - 8),
        height: 180,
        scales: { x: { time: true } },
        axes: [{}, { label: 'events/s', size: 60 }],
        series: [{}, { label: 'stored', stroke: '#2f7d32', width: 2 }, { label: 'failed', stroke: '#c62828', width: 2 }],
      }, data, box.current!);
    } else {
      plot.current.setData(data);
    }
  }, [minutes]);
  useEffect(() => () => { plot.current?.destroy(); plot.current = undefined; }, []);
  return html`<div class="chart" ref=${box}></div>`;
}
