// @particle/device-os-protobuf (the package particle-cli and particle-usb speak to Device OS with) on the Device
// Protection control requests. Reads JSON on stdin: { nonce, signature, fingerprint, deviceId, bulwark: { name: hex } }
// (bytes as hex; `bulwark` holds Bulwark's encodings). Prints one JSON object: the request type ids, the package's
// encodings of the same messages (zero fields left unset, proto3's canonical form), and its decodings of Bulwark's bytes.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const DeviceOSProtobuf = require('@particle/device-os-protobuf');

const input = JSON.parse(await new Promise((resolve, reject) => {
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
  process.stdin.on('error', reject);
}));
const bytes = (hex) => Buffer.from(hex, 'hex');
const hex = (value) => Buffer.from(value).toString('hex');
const nonce = bytes(input.nonce);
const signature = bytes(input.signature);
const fingerprint = bytes(input.fingerprint);

const encode = (name, data) => hex(DeviceOSProtobuf.encode(name, data));
// Decoded messages as plain JSON, bytes as hex, enums as numbers, unset fields absent.
const decode = (name, hexText) => {
  const { message } = DeviceOSProtobuf.getDefinition(name);
  const object = message.toObject(DeviceOSProtobuf.decode(name, bytes(hexText)), { bytes: String, enums: Number });
  return JSON.parse(JSON.stringify(object, (key, value) => (typeof value === 'string' && key !== 'id' ? Buffer.from(value, 'base64').toString('hex') : value)));
};

const { Action } = DeviceOSProtobuf.definitions.SetProtectedStateRequest;
const output = {
  typeIds: {
    GetDeviceIdRequest: DeviceOSProtobuf.getDefinition('GetDeviceIdRequest').id,
    GetProtectedStateRequest: DeviceOSProtobuf.getDefinition('GetProtectedStateRequest').id,
    SetProtectedStateRequest: DeviceOSProtobuf.getDefinition('SetProtectedStateRequest').id,
  },
  actions: { RESET: Action.RESET, PREPARE: Action.PREPARE, CONFIRM: Action.CONFIRM },
  encoded: {
    getReplyProtected: encode('GetProtectedStateReply', { state: true }),
    getReplyServiceMode: encode('GetProtectedStateReply', { state: true, overridden: true }),
    reset: encode('SetProtectedStateRequest', {}),
    resetExplicit: encode('SetProtectedStateRequest', { action: Action.RESET }),
    prepare: encode('SetProtectedStateRequest', { action: Action.PREPARE, prepare: { serverNonce: nonce } }),
    confirm: encode('SetProtectedStateRequest', { action: Action.CONFIRM, confirm: { serverSignature: signature, serverPublicKeyFingerprint: fingerprint } }),
    prepareReply: encode('SetProtectedStateReply', { prepare: { deviceNonce: nonce, deviceSignature: signature, devicePublicKeyFingerprint: fingerprint } }),
    emptyPrepareReply: encode('SetProtectedStateReply', { prepare: {} }),
    deviceIdReply: encode('GetDeviceIdReply', { id: input.deviceId }),
  },
  decoded: {
    getReplyServiceMode: decode('GetProtectedStateReply', input.bulwark.getReplyServiceMode),
    prepare: decode('SetProtectedStateRequest', input.bulwark.prepare),
    confirm: decode('SetProtectedStateRequest', input.bulwark.confirm),
    reset: decode('SetProtectedStateRequest', input.bulwark.reset),
    prepareReply: decode('SetProtectedStateReply', input.bulwark.prepareReply),
    deviceIdReply: decode('GetDeviceIdReply', input.bulwark.deviceIdReply),
  },
};
console.log(JSON.stringify(output));
