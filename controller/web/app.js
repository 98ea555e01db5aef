// SPDX-License-Identifier: GPL-2.0-only
// The controller's dashboard: login, the edges with their health and live
// traffic, the desired state (services, allow, deny, blocks) with forms to
// change it, the A2S key. Talks only to the controller's /api/*; every value
// from it is put into the page as text, never as markup.
'use strict';

const REFRESH_MS = 1000;
const CHART_POINTS = 60;
// One stats request per chart per refresh: with hundreds of edges, chart
// only the busiest connected ones (the table lists every edge).
const MAX_CHARTS = 24;

const $ = (sel) => document.querySelector(sel);
let timer = null;
let loggedIn = false;
const charts = new Map(); // edge id -> canvas

class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

// api(method, path, body?) -> parsed JSON (or null). Writes always carry
// Content-Type: application/json: the controller refuses writes without it
// (with the SameSite cookie, the guard against cross-site forms).
async function api(method, path, body) {
	const opt = { method, credentials: 'same-origin', headers: {} };
	if (method !== 'GET') {
		opt.headers['Content-Type'] = 'application/json';
		opt.body = body === undefined ? '{}' : JSON.stringify(body);
		if (method === 'DELETE' && body === undefined)
			delete opt.body;
	}
	let res;
	try {
		res = await fetch(path, opt);
	} catch (e) {
		throw new ApiError(0, 'controller unreachable: ' + e.message);
	}
	const text = await res.text();
	let json = null;
	if (text) {
		try {
			json = JSON.parse(text);
		} catch (e) {
			if (res.ok)
				throw new ApiError(res.status, 'controller sent invalid JSON for ' + path);
		}
	}
	if (res.status === 401) {
		showLogin();
		throw new ApiError(401, (json && json.error) || 'not logged in');
	}
	if (!res.ok)
		throw new ApiError(res.status, (json && json.error) ||
				   `${method} ${path}: HTTP ${res.status}`);
	return json;
}

function el(tag, attrs, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === 'class')
			e.className = v;
		else if (k.startsWith('on'))
			e.addEventListener(k.slice(2), v);
		else
			e.setAttribute(k, v);
	}
	for (const c of children)
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	return e;
}

function fmtAge(ms) {
	if (ms === undefined || ms === null || ms < 0)
		return '–';
	if (ms < 1000)
		return 'now';
	const s = Math.round(ms / 1000);
	if (s < 120)
		return s + ' s ago';
	if (s < 7200)
		return Math.round(s / 60) + ' min ago';
	return Math.round(s / 3600) + ' h ago';
}

// How long ago an edge was last heard from: the controller's age if it
// gives one, else from the absolute time (ms since the epoch).
function lastSeenAgo(e) {
	if (typeof e.last_seen_ago_ms === 'number')
		return e.last_seen_ago_ms;
	if (typeof e.last_seen_ms === 'number' && e.last_seen_ms > 0)
		return Math.max(0, Date.now() - e.last_seen_ms);
	return undefined;
}

function sumValues(obj) {
	let n = 0;
	for (const v of Object.values(obj || {}))
		if (typeof v === 'number')
			n += v;
	return n;
}

// ---- views -----------------------------------------------------------------

function showLogin() {
	loggedIn = false;
	shownVersion = null;
	stopRefresh();
	$('#app-view').hidden = true;
	$('#logout').hidden = true;
	$('#whoami').textContent = '';
	$('#conn').textContent = '';
	$('#login-view').hidden = false;
	$('#login-user').focus();
}

function showApp() {
	loggedIn = true;
	$('#login-view').hidden = true;
	$('#app-view').hidden = false;
	$('#logout').hidden = false;
	startRefresh();
}

function renderEdges(edges) {
	const tbody = $('#edges tbody');
	tbody.replaceChildren();
	$('#edges-empty').hidden = edges.length > 0;
	for (const e of edges) {
		const inSync = e.config_version === e.acked_version;
		let status;
		if (!e.connected)
			status = el('span', { class: 'bad' }, 'disconnected');
		else if (!inSync)
			status = el('span', { class: 'warn' }, 'syncing');
		else
			status = el('span', { class: 'ok' }, 'connected');
		const cfg = el('span', { class: inSync ? '' : 'warn' },
			`${e.config_version ?? '–'} / ${e.acked_version ?? '–'}`);
		tbody.append(el('tr', { 'data-edge': e.id },
			el('td', {}, e.id),
			el('td', { class: 'status' }, status),
			el('td', {}, e.peer || '–'),
			el('td', { class: 'num' }, cfg),
			el('td', {}, fmtAge(lastSeenAgo(e))),
			el('td', { class: 'num', title: reasonsTitle(e.pps) },
				KmPlot.si(sumValues(e.pps))),
			el('td', { class: 'num' }, KmPlot.si(e.bps || 0))));
	}
}

function reasonsTitle(pps) {
	return Object.entries(pps || {})
		.filter(([, v]) => v > 0)
		.map(([k, v]) => `${k}: ${KmPlot.si(v)}/s`)
		.join('\n') || 'no traffic';
}

function chartFor(id) {
	let c = charts.get(id);
	if (!c) {
		const canvas = el('canvas', { 'data-edge': id,
			'aria-label': `packets per second on edge ${id}` });
		const card = el('div', { class: 'card chart' },
			el('h2', {}, `Traffic on ${id} `,
				el('span', { class: 'muted' }, 'packets/s')),
			canvas);
		$('#charts').append(card);
		c = { card, canvas };
		charts.set(id, c);
	}
	return c;
}

async function refreshCharts(all) {
	const edges = all.filter((e) => e.connected)
		.sort((x, y) => sumValues(y.pps) - sumValues(x.pps) ||
			String(x.id).localeCompare(String(y.id)))
		.slice(0, MAX_CHARTS);
	const note = $('#charts-note');
	note.hidden = all.length <= edges.length;
	note.textContent = `Charts of the ${edges.length} busiest connected edges of ${all.length}.`;
	const ids = new Set(edges.map((e) => e.id));
	for (const [id, c] of charts) {
		if (!ids.has(id)) {
			c.card.remove();
			charts.delete(id);
		}
	}
	await Promise.all(edges.map(async (e) => {
		const c = chartFor(e.id);
		let s;
		try {
			s = await api('GET', `/api/edges/${encodeURIComponent(e.id)}/stats?points=${CHART_POINTS}`);
		} catch (err) {
			if (err.status === 401)
				throw err;
			s = {};
		}
		KmPlot.draw(c.canvas, {
			t: s.t_ms || [],
			series: [
				{ name: 'in', color: '#1d4ed8', values: s.pps_in || [] },
				{ name: 'forwarded', color: '#15803d', values: s.pps_fwd || [] },
				{ name: 'dropped', color: '#b91c1c', values: s.pps_drop || [] },
			],
		});
	}));
}

// State entries: prefixes may come as strings or as {prefix}, blocks as
// strings or {addr, ...}; accept both so the page follows the API.
const prefixOf = (p) => (typeof p === 'string' ? p : p.prefix);
const addrOf = (b) => (typeof b === 'string' ? b : b.addr);

function delButton(label, path) {
	return el('button', { type: 'button', class: 'del', title: label,
		onclick: async (ev) => {
			const btn = ev.currentTarget;
			const err = btn.closest('.card').querySelector('.error');
			btn.disabled = true;
			try {
				await api('DELETE', path);
				err.textContent = '';
				await refreshState();
			} catch (e) {
				err.textContent = e.message;
			} finally {
				btn.disabled = false;
			}
		} }, 'remove');
}

let shownVersion = null;

function renderState(st) {
	// Re-rendered only when the state changed: rows (and their buttons)
	// stay put while an operator reaches for one.
	if (st.version === shownVersion)
		return;
	shownVersion = st.version;
	$('#state-version').textContent = `(config version ${st.version})`;

	const sv = $('#services tbody');
	sv.replaceChildren();
	for (const s of st.services || []) {
		const backend = s.backend + (s.backend_port ? ':' + s.backend_port : '');
		sv.append(el('tr', {},
			el('td', {}, s.name || ''),
			el('td', {}, s.proto), el('td', {}, s.addr),
			el('td', { class: 'num' }, s.port), el('td', {}, backend),
			el('td', {}, s.a2s ? 'cached' : ''),
			el('td', {}, delButton(`remove service ${s.proto} ${s.addr}:${s.port}`,
				`/api/services/${encodeURIComponent(s.proto)}/${encodeURIComponent(s.addr)}/${s.port}`))));
	}

	for (const list of ['allow', 'deny']) {
		const ul = $('#' + list);
		ul.replaceChildren();
		for (const p of st[list] || []) {
			const prefix = prefixOf(p);
			const [a, len] = prefix.split('/');
			ul.append(el('li', { 'data-prefix': prefix }, el('span', {}, prefix),
				delButton(`remove ${list} ${prefix}`,
					`/api/${list}/${encodeURIComponent(a)}/${encodeURIComponent(len)}`)));
		}
	}

	const bl = $('#blocks');
	bl.replaceChildren();
	for (const b of st.blocks || []) {
		const addr = addrOf(b);
		let note = '';
		if (typeof b === 'object' && b.remaining_ms)
			note = ` until ${new Date(Date.now() + b.remaining_ms).toLocaleTimeString()}`;
		else if (typeof b === 'object' && b.duration_ms)
			note = ` for ${Math.round(b.duration_ms / 1000)} s`;
		else
			note = ' until removed';
		bl.append(el('li', { 'data-addr': addr },
			el('span', {}, addr, el('span', { class: 'muted' }, note)),
			delButton(`remove block ${addr}`, `/api/blocks/${encodeURIComponent(addr)}`)));
	}
}

function renderKey(k) {
	$('#a2s-key').textContent = k
		? `key ${k.key_id}, epoch ${k.epoch_s} s, rotated ${fmtAge(k.rotated_ms_ago)}`
		: '–';
}

// ---- refresh loop ----------------------------------------------------------

async function refreshState() {
	renderState(await api('GET', '/api/state'));
}

async function refresh() {
	try {
		const r = await api('GET', '/api/edges');
		const edges = (r && r.edges) || [];
		renderEdges(edges);
		await Promise.all([refreshCharts(edges), refreshState(),
			api('GET', '/api/a2s/key').then(renderKey, () => renderKey(null))]);
		$('#conn').textContent = `updated ${new Date().toLocaleTimeString()}`;
	} catch (e) {
		if (e.status === 401)
			return;
		$('#conn').textContent = e.message;
	}
}

function startRefresh() {
	stopRefresh();
	const tick = async () => {
		await refresh();
		// Chained, not setInterval: a slow controller never gets a pile
		// of overlapping requests.
		if (loggedIn)
			timer = setTimeout(tick, REFRESH_MS);
	};
	tick();
}

function stopRefresh() {
	if (timer)
		clearTimeout(timer);
	timer = null;
}

// ---- forms -----------------------------------------------------------------

function intField(form, name, optional) {
	const v = form.elements[name].value.trim();
	if (v === '' && optional)
		return undefined;
	// Sent as typed when it is not a plain integer, so the controller's
	// validation names the field.
	return /^\d+$/.test(v) ? Number(v) : v;
}

const bodies = {
	'service-form': (f) => {
		const b = {
			proto: f.elements.proto.value,
			addr: f.elements.addr.value.trim(),
			port: intField(f, 'port'),
			backend: f.elements.backend.value.trim(),
		};
		const bp = intField(f, 'backend_port', true);
		if (bp !== undefined)
			b.backend_port = bp;
		const name = f.elements.name.value.trim();
		if (name)
			b.name = name;
		if (f.elements.a2s.checked)
			b.a2s = true;
		return b;
	},
	'allow-form': (f) => ({ prefix: f.elements.prefix.value.trim() }),
	'deny-form': (f) => ({ prefix: f.elements.prefix.value.trim() }),
	'block-form': (f) => {
		const b = { addr: f.elements.addr.value.trim() };
		const s = intField(f, 'duration_s', true);
		if (s !== undefined)
			b.duration_ms = typeof s === 'number' ? s * 1000 : s;
		return b;
	},
};

for (const [id, body] of Object.entries(bodies)) {
	const form = document.getElementById(id);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const err = form.querySelector('.error');
		const btn = form.querySelector('button[type=submit]');
		btn.disabled = true;
		try {
			await api('POST', form.dataset.path, body(form));
			err.textContent = '';
			form.reset();
			await refreshState();
		} catch (e) {
			err.textContent = e.message;
		} finally {
			btn.disabled = false;
		}
	});
}

$('#rotate-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const err = ev.currentTarget.querySelector('.error');
	try {
		await api('POST', '/api/a2s/rotate', {});
		err.textContent = '';
		renderKey(await api('GET', '/api/a2s/key'));
	} catch (e) {
		err.textContent = e.message;
	}
});

$('#login-form').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const err = $('#login-error');
	const user = $('#login-user').value;
	try {
		const res = await fetch('/api/login', {
			method: 'POST', credentials: 'same-origin',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ user, password: $('#login-password').value }),
		});
		if (!res.ok) {
			let msg = `login failed (HTTP ${res.status})`;
			try {
				msg = (await res.json()).error || msg;
			} catch (e) { /* keep the status line */ }
			err.textContent = msg;
			return;
		}
		err.textContent = '';
		$('#login-password').value = '';
		$('#whoami').textContent = user;
		showApp();
	} catch (e) {
		err.textContent = 'controller unreachable: ' + e.message;
	}
});

$('#logout').addEventListener('click', async () => {
	try {
		await api('POST', '/api/logout', {});
	} catch (e) { /* logged out either way */ }
	showLogin();
});

// Start: a session cookie from an earlier visit may still be valid.
api('GET', '/api/edges').then(showApp, (e) => {
	if (e.status !== 401) {
		$('#login-error').textContent = e.message;
		showLogin();
	}
});
