#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-only
//
// a2s-query.js HOST:PORT [--type GAME] [--timeout MS] [--retries N]
//
// One query with the npm package gamedig (pinned in package.json, installed
// by packaging/install-deps): A2S_INFO, A2S_PLAYER and A2S_RULES, challenges
// and split answers handled by gamedig itself. Prints one JSON line:
//   {"name":..,"map":..,"numplayers":N,"maxplayers":N,
//    "players":[{"name":..,"score":N}],"rules":{..},"ping":MS}
// Exit status 0 when gamedig got every part (rules and players are
// required), 1 when the query failed, 2 for a bad command line.
'use strict';

let GameDig;
try {
	({ GameDig } = require('gamedig'));
} catch (e) {
	console.error('a2s-query: gamedig is not installed ' +
		'(run packaging/install-deps): ' + e.message);
	process.exit(1);
}

function usage(msg) {
	if (msg)
		console.error('a2s-query: ' + msg);
	console.error('usage: a2s-query.js HOST:PORT [--type GAME] ' +
		'[--timeout MS] [--retries N]');
	process.exit(2);
}

function parseArgs(argv) {
	const o = { type: 'teamfortress2', timeout: 2000, retries: 1 };
	const num = (name, v) => {
		if (!/^[0-9]+$/.test(v || ''))
			usage(`${name}: '${v}' is not a number`);
		return Number(v);
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--type')
			o.type = argv[++i] || usage('--type needs a value');
		else if (a === '--timeout')
			o.timeout = num(a, argv[++i]);
		else if (a === '--retries')
			o.retries = num(a, argv[++i]);
		else if (!o.target && !a.startsWith('-'))
			o.target = a;
		else
			usage(`unexpected argument '${a}'`);
	}
	const m = /^([0-9.]+):([0-9]+)$/.exec(o.target || '');
	if (!m || Number(m[2]) > 65535)
		usage('expected HOST:PORT');
	o.host = m[1];
	o.port = Number(m[2]);
	return o;
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	let r;
	try {
		r = await GameDig.query({
			type: o.type,
			host: o.host,
			port: o.port,
			givenPortOnly: true,
			requestRules: true,
			requestRulesRequired: true,
			requestPlayersRequired: true,
			socketTimeout: o.timeout,
			attemptTimeout: o.timeout * 3,
			maxRetries: o.retries,
		});
	} catch (e) {
		console.error(`a2s-query: ${o.host}:${o.port}: ` +
			(e && e.message ? e.message : String(e)));
		process.exit(1);
	}
	const out = {
		name: r.name,
		map: r.map,
		numplayers: r.numplayers,
		maxplayers: r.maxplayers,
		players: (r.players || []).map((p) => ({
			name: p.name,
			score: p.raw ? p.raw.score : undefined,
		})),
		rules: (r.raw && r.raw.rules) || {},
		ping: r.ping,
	};
	process.stdout.write(JSON.stringify(out) + '\n');
}

main();
