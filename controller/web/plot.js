// SPDX-License-Identifier: GPL-2.0-only
// A small line chart on a canvas: a few series over a shared time axis,
// a y axis scaled to a round maximum, a legend. Enough for live traffic
// per edge without bringing in a charting library.
'use strict';

const KmPlot = (() => {
	// A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above v.
	function niceMax(v) {
		if (!(v > 0))
			return 1;
		const p = Math.pow(10, Math.floor(Math.log10(v)));
		for (const m of [1, 2, 5, 10])
			if (m * p >= v)
				return m * p;
		return 10 * p;
	}

	// Grid lines that fall on round values of a niceMax() axis: quarters of
	// 2 × 10^n, fifths otherwise.
	function ticksFor(max) {
		const lead = Math.round(max / Math.pow(10, Math.floor(Math.log10(max))));
		return lead === 2 ? 4 : 5;
	}

	function si(v) {
		const units = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
		for (const [d, u] of units)
			if (Math.abs(v) >= d)
				return +(v / d).toFixed(1) + u;
		return String(+v.toFixed(1));
	}

	// draw(canvas, {t: [ms...], series: [{name, color, values}], unit})
	function draw(canvas, data) {
		const dpr = window.devicePixelRatio || 1;
		const cssW = canvas.clientWidth || 400;
		const cssH = canvas.clientHeight || 160;
		// Resize the backing store only when needed: it clears the canvas
		// and costs an allocation.
		if (canvas.width !== Math.round(cssW * dpr) ||
		    canvas.height !== Math.round(cssH * dpr)) {
			canvas.width = Math.round(cssW * dpr);
			canvas.height = Math.round(cssH * dpr);
		}
		const ctx = canvas.getContext('2d');
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, cssW, cssH);

		const left = 48, right = 8, top = 20, bottom = 18;
		const w = cssW - left - right, h = cssH - top - bottom;
		const t = data.t || [];
		let ymax = 0;
		for (const s of data.series)
			for (const v of s.values)
				if (v > ymax)
					ymax = v;
		ymax = niceMax(ymax);

		ctx.font = '11px system-ui, sans-serif';
		ctx.strokeStyle = '#d9dce3';
		ctx.fillStyle = '#6b7280';
		ctx.lineWidth = 1;
		ctx.textAlign = 'right';
		ctx.textBaseline = 'middle';
		const ticks = ticksFor(ymax);
		for (let i = 0; i <= ticks; i++) {
			const y = top + h - (h * i) / ticks;
			ctx.beginPath();
			ctx.moveTo(left, Math.round(y) + 0.5);
			ctx.lineTo(left + w, Math.round(y) + 0.5);
			ctx.stroke();
			ctx.fillText(si((ymax * i) / ticks), left - 4, y);
		}
		ctx.textAlign = 'left';
		ctx.textBaseline = 'alphabetic';
		if (t.length > 1) {
			const span = (t[t.length - 1] - t[0]) / 1000;
			ctx.fillText('-' + Math.round(span) + ' s', left, cssH - 4);
			ctx.textAlign = 'right';
			ctx.fillText('now', left + w, cssH - 4);
		} else {
			ctx.fillText('waiting for data', left + 4, top + h / 2);
		}

		const t0 = t.length ? t[0] : 0;
		const tspan = t.length > 1 ? t[t.length - 1] - t0 : 1;
		ctx.lineWidth = 1.5;
		for (const s of data.series) {
			const n = Math.min(s.values.length, t.length);
			if (n < 2)
				continue;
			ctx.strokeStyle = s.color;
			ctx.beginPath();
			for (let i = 0; i < n; i++) {
				const x = left + ((t[i] - t0) / tspan) * w;
				const y = top + h - (Math.max(0, s.values[i]) / ymax) * h;
				if (i === 0)
					ctx.moveTo(x, y);
				else
					ctx.lineTo(x, y);
			}
			ctx.stroke();
		}

		// Legend on top, with each series' latest value.
		ctx.textAlign = 'left';
		ctx.textBaseline = 'middle';
		let x = left;
		for (const s of data.series) {
			const last = s.values.length ? s.values[s.values.length - 1] : 0;
			const label = s.name + ' ' + si(last) + (data.unit || '');
			ctx.fillStyle = s.color;
			ctx.fillRect(x, 6, 10, 3);
			ctx.fillStyle = '#1d2330';
			ctx.fillText(label, x + 14, 8);
			x += ctx.measureText(label).width + 28;
		}
	}

	return { draw, niceMax, si };
})();
