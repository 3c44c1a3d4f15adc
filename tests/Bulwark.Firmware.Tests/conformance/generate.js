'use strict';
// Generates firmware fixtures with the real binary-version-reader and records what its parser reports for each.
// Usage: node generate.js <outDir>
// Writes <outDir>/<case>.bin and <outDir>/manifest.json. Bulwark.Firmware.Tests compares its parser and
// ProtectedModuleBuilder against every case. Binaries contain random filler, so each run differs byte-wise;
// the manifest always describes the binaries written next to it.

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const bvr = require('binary-version-reader');
const { firmwareTestHelper, HalModuleParser, ModuleInfo, createProtectedModule, addModuleExtensions, compressModule } = bvr;
const { platforms } = require('@particle/device-constants');

const F = ModuleInfo.FunctionType;
const X = ModuleInfo.ModuleInfoExtension;
const outDir = process.argv[2];
if (!outDir) {
	console.error('usage: node generate.js <outDir>');
	process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });

const cases = [];
const binaries = {};

// Buffers become lowercase hex so the manifest stays small and easy to compare.
function normalize(value) {
	return JSON.parse(JSON.stringify(value, (key, v) => {
		if (v && v.type === 'Buffer' && Array.isArray(v.data)) {
			return Buffer.from(v.data).toString('hex');
		}
		return v;
	}));
}

async function packageParse(buffer) {
	try {
		const info = await new HalModuleParser().parseBuffer({ fileBuffer: buffer });
		delete info.fileBuffer;
		return { parse: normalize(info) };
	} catch (e) {
		return { parseError: String(e && e.message || e) };
	}
}

async function add(name, buffer, source, expect, extra = {}) {
	binaries[name] = buffer;
	fs.writeFileSync(path.join(outDir, `${name}.bin`), buffer);
	cases.push({ name, file: `${name}.bin`, source, expect, ...extra, ...(await packageParse(buffer)) });
}

function withChecksums(buffer) {
	bvr.updateModuleSha256(buffer);
	bvr.updateModuleCrc32(buffer);
	return buffer;
}

const valid = { valid: true };
const refused = (reason) => ({ valid: false, reason });

// One module per function and platform family; vector tables where the hardware has them.
const modules = [
	['photon-bootloader', { platformId: 6, moduleFunction: F.BOOTLOADER, moduleIndex: 0, moduleVersion: 101 }],
	['photon-system-part-1', { platformId: 6, moduleFunction: F.SYSTEM_PART, moduleIndex: 1, moduleVersion: 1512, addVectorTable: true, vectorTableSize: 0x184 }],
	['photon-system-part-2', { platformId: 6, moduleFunction: F.SYSTEM_PART, moduleIndex: 2, moduleVersion: 1512, deps: [{ func: F.SYSTEM_PART, index: 1, version: 1512 }] }],
	['photon-user-part', { platformId: 6, moduleFunction: F.USER_PART, moduleIndex: 1, moduleVersion: 6, productId: 4321, productVersion: 3, deps: [{ func: F.SYSTEM_PART, index: 2, version: 1512 }] }],
	['electron-mono-firmware', { platformId: 10, moduleFunction: F.MONO_FIRMWARE, moduleIndex: 0, moduleVersion: 2300, addVectorTable: true }],
	['boron-bootloader', { platformId: 13, moduleFunction: F.BOOTLOADER, moduleIndex: 0, moduleVersion: 2102, addVectorTable: true, vectorTableSize: 0x200 }],
	['boron-system-part', { platformId: 13, moduleFunction: F.SYSTEM_PART, moduleIndex: 1, moduleVersion: 6200, deps: [{ func: F.BOOTLOADER, index: 0, version: 2102 }, { func: F.RADIO_STACK, index: 0, version: 202 }] }],
	['boron-user-part', { platformId: 13, moduleFunction: F.USER_PART, moduleIndex: 1, moduleVersion: 6, productId: 20000, productVersion: 42, deps: [{ func: F.SYSTEM_PART, index: 1, version: 6200 }] }],
	['boron-radio-stack', { platformId: 13, moduleFunction: F.RADIO_STACK, moduleIndex: 0, moduleVersion: 202, moduleStartAddress: 0x1000 }],
	['argon-ncp', { platformId: 12, moduleFunction: F.NCP_FIRMWARE, moduleIndex: 0, moduleVersion: 7, moduleStartAddress: 0 }],
	['tracker-resource', { platformId: 26, moduleFunction: F.RESOURCE, moduleIndex: 0, moduleVersion: 1 }],
	['tracker-settings', { platformId: 26, moduleFunction: F.SETTINGS, moduleIndex: 0, moduleVersion: 1 }],
	['p2-bootloader', { platformId: 32, moduleFunction: F.BOOTLOADER, moduleIndex: 2, moduleVersion: 3000 }],
	['p2-system-part', { platformId: 32, moduleFunction: F.SYSTEM_PART, moduleIndex: 1, moduleVersion: 6200 }],
	['p2-user-part', { platformId: 32, moduleFunction: F.USER_PART, moduleIndex: 2, moduleVersion: 6, moduleStartAddress: 0x085f0003, deps: [{ func: F.SYSTEM_PART, index: 1, version: 6200 }] }],
	['p2-user-part-vector-table', { platformId: 32, moduleFunction: F.USER_PART, moduleIndex: 2, moduleVersion: 6, addVectorTable: true, vectorTableSize: 0x200 }],
	['msom-asset', { platformId: 35, moduleFunction: F.ASSET, moduleIndex: 0, moduleVersion: 0 }],
	// gcc is not a known platform: the locator must fall back to the best-scoring offset.
	['gcc-user-part', { platformId: 3, moduleFunction: F.USER_PART, moduleIndex: 1, moduleVersion: 6, deps: [{ func: F.SYSTEM_PART, index: 1, version: 6200 }] }],
	// 0x100 is not a preferred offset: found only by the 4-byte-aligned scan.
	['boron-user-part-odd-offset', { platformId: 13, moduleFunction: F.USER_PART, moduleIndex: 1, moduleVersion: 6, addVectorTable: true, vectorTableSize: 0x100 }],
];

(async () => {
	for (const [name, options] of modules) {
		await add(name, firmwareTestHelper.createFirmwareBinary({ dataSize: 256, ...options }), { kind: 'createFirmwareBinary', options }, valid);
	}

	// Function NONE: the package parses it anyway, Bulwark refuses it (no plausible prefix anywhere).
	const noneOptions = { platformId: 13, moduleFunction: F.NONE, moduleIndex: 0, moduleVersion: 1 };
	await add('boron-function-none', firmwareTestHelper.createFirmwareBinary({ dataSize: 256, ...noneOptions }),
		{ kind: 'createFirmwareBinary', options: noneOptions }, refused('PrefixNotFound'));

	// Every extension type the package can encode, in the suffix (boron) and in the prefix (P2 user part grows left).
	const hash = Buffer.alloc(32, 0xab);
	const suffixExtensions = [
		{ type: X.NAME, name: 'tracker-edge' },
		{ type: X.DEPENDENCY, moduleFunction: F.NCP_FIRMWARE, moduleIndex: 0, moduleVersion: 7, targetId: 0x1234abcd },
		{ type: X.HASH, hash },
		{ type: X.DYNAMIC_LOCATION, moduleStartAddress: 0x000b4000, dynalibLoadAddress: 0x2003f000, dynalibStartAddress: 0x000b4020 },
		{ type: X.ASSET_DEPENDENCY, hash, name: 'cat.jpg' },
		{ type: X.ASSET_TYPE, assetType: 1 },
		{ type: X.PRODUCT_DATA, productId: 20000, productVersion: 42 },
	];
	await add('boron-user-part-extensions', await addModuleExtensions({ module: binaries['boron-user-part'], exts: suffixExtensions }),
		{ kind: 'addModuleExtensions', input: 'boron-user-part' }, valid);
	const prefixExtensions = [
		{ type: X.NAME, name: 'app' },
		{ type: X.DEPENDENCY, moduleFunction: F.SYSTEM_PART, moduleIndex: 1, moduleVersion: 6200, targetId: 0 },
	];
	await add('p2-user-part-prefix-extensions', await addModuleExtensions({ module: binaries['p2-user-part'], exts: prefixExtensions }),
		{ kind: 'addModuleExtensions', input: 'p2-user-part' }, valid);

	await add('boron-user-part-compressed', await compressModule(binaries['boron-user-part']),
		{ kind: 'compressModule', input: 'boron-user-part' }, valid);

	// createProtectedModule on everything; the C# builder must produce the same bytes from the same input.
	const protectInputs = Object.keys(binaries).filter(n => n !== 'boron-function-none');
	for (const input of protectInputs) {
		const name = `${input}-protected`;
		try {
			// See p2-user-part-protected-twice: inputs that already have prefix extensions hit the package bug.
			const inputHasPrefixExtensions = !!cases.find(c => c.name === input).parse.prefixInfo.extensions;
			await add(name, await createProtectedModule(binaries[input]), { kind: 'createProtectedModule', input }, valid,
				{ builderMatchesPackage: !inputHasPrefixExtensions });
		} catch (e) {
			cases.push({ name, source: { kind: 'createProtectedModule', input }, protectError: String(e.message) });
		}
	}
	const certificate = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
	await add('boron-bootloader-protected-certificate', await createProtectedModule(binaries['boron-bootloader'], certificate),
		{ kind: 'createProtectedModule', input: 'boron-bootloader', certificateHex: certificate.toString('hex') }, valid, { builderMatchesPackage: true });
	await add('boron-bootloader-protected-twice', await createProtectedModule(binaries['boron-bootloader-protected']),
		{ kind: 'createProtectedModule', input: 'boron-bootloader-protected' }, valid, { builderMatchesPackage: true });
	// Known package bug: with existing prefix extensions it appends SECURITY_MODE after the old END, where no
	// parser looks, so the result reads as unprotected. Bulwark's builder inserts it before END instead.
	await add('p2-user-part-protected-twice', await createProtectedModule(binaries['p2-user-part-protected']),
		{ kind: 'createProtectedModule', input: 'p2-user-part-protected' }, valid, { builderMatchesPackage: false });

	// Corrupted copies of a protected bootloader: what the cloud must refuse.
	const good = binaries['boron-bootloader-protected'];
	const prefixAt = 0x200;
	const corrupt = (name, mutate, reason) => {
		const copy = Buffer.from(good);
		return add(name, mutate(copy) || copy, { kind: 'corrupted', input: 'boron-bootloader-protected' }, refused(reason));
	};
	await corrupt('corrupt-payload-byte', b => { b[prefixAt + 40] ^= 0x01; }, 'CrcMismatch');
	await corrupt('corrupt-platform-id', b => { b[prefixAt + 12] ^= 0x02; }, 'CrcMismatch');
	await corrupt('corrupt-stored-crc', b => { b[b.length - 1] ^= 0x80; }, 'CrcMismatch');
	await corrupt('corrupt-stored-sha', b => { b[b.length - 20] ^= 0xff; bvr.updateModuleCrc32(b); }, 'Sha256Mismatch');
	await corrupt('corrupt-security-mode-with-valid-checksums', b => { b[b.length - 4 - 49 + 4] = 7; withChecksums(b); }, 'InvalidExtensionPayload');
	await corrupt('corrupt-extension-length-with-valid-checksums', b => { b.writeUInt16LE(0x4000, b.length - 4 - 49 + 2); withChecksums(b); }, 'MalformedExtension');
	await corrupt('corrupt-suffix-size-with-valid-checksums', b => { b.writeUInt16LE(38, b.length - 6); bvr.updateModuleCrc32(b); }, 'InvalidSuffixSize');
	await corrupt('truncated-by-1', b => b.subarray(0, b.length - 1), 'Truncated');
	await corrupt('truncated-by-100', b => b.subarray(0, b.length - 100), 'Truncated');
	await corrupt('trailing-byte', b => Buffer.concat([b, Buffer.from([0])]), 'TrailingData');

	const manifest = {
		packageVersion: require('binary-version-reader/package.json').version,
		deviceConstantsVersion: require('@particle/device-constants/package.json').version,
		nodeVersion: process.version,
		knownPlatformIds: [...new Set(Object.values(ModuleInfo.Platform))].sort((a, b) => a - b),
		platformModules: Object.values(platforms).filter(p => p.firmwareModules).map(p => ({
			id: p.id,
			modules: p.firmwareModules.map(m => ({ type: m.type, index: m.index, growsLeft: !!m.growsLeft, maxSize: m.maxSize || null }))
		})),
		cases,
	};
	fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
	console.log(`wrote ${cases.length} cases to ${outDir}`);
})().catch(e => {
	console.error(e);
	process.exit(1);
});
