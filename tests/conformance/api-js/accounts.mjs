// particle-api-js@12.0.3 against a Bulwark server: sign-up, login, two-step login, tokens.
// Usage: node accounts.mjs <baseUrl>   (exit code 0 = every check passed)
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { totp } from '../totp.mjs';

const require = createRequire(import.meta.url);
const Particle = require('particle-api-js');
const baseUrl = process.argv[2] ?? process.env.BULWARK_URL;
assert.ok(baseUrl, 'pass the server URL');
const particle = new Particle({ baseUrl });

const step = (name) => console.log(`ok - ${name}`);
const expectHttpError = async (promise, status, check) => {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.statusCode, status, `expected HTTP ${status}, got ${e.statusCode}: ${e.message}`);
    if (check) check(e);
    return e;
  }
  assert.fail(`expected HTTP ${status}, the call succeeded`);
};

const username = `apijs-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const password = `conformance passphrase ${Math.random().toString(36).slice(2)}`;

const created = await particle.createUser({ username, password, accountInfo: { first_name: 'Api', last_name: 'Js' } });
assert.equal(created.statusCode, 201);
step('createUser');

await expectHttpError(particle.createUser({ username: `weak-${username}`, password: 'password1' }), 400,
  (e) => assert.match(e.errorDescription ?? e.body?.error_description ?? '', /common or breached/));
step('createUser refuses a breached password with the reason');

const login = await particle.login({ username, password });
const token = login.body.access_token;
assert.match(token, /^bwk_/);
assert.equal(login.body.token_type, 'bearer');
assert.equal(login.body.expires_in, 7776000);
step('login (password grant, form-encoded, particle-api client id)');

const me = await particle.getUserInfo({ auth: token });
assert.equal(me.body.username, username);
assert.equal(me.body.mfa.enabled, false);
assert.equal(me.body.account_info.first_name, 'Api');
step('getUserInfo');

await expectHttpError(particle.login({ username, password: 'not the password at all' }), 400,
  (e) => assert.equal(e.body.error, 'invalid_grant'));
step('login with a bad password answers invalid_grant');

const enrol = await particle.enableMfa({ auth: token });
assert.ok(enrol.body.mfa_token && enrol.body.secret && enrol.body.qr_url);
const confirmed = await particle.confirmMfa({ mfaToken: enrol.body.mfa_token, otp: totp(enrol.body.secret), auth: token });
assert.equal(confirmed.body.enrolled, true);
assert.equal(confirmed.body.recovery_codes.length, 10);
step('enableMfa + confirmMfa');

const challenge = await expectHttpError(particle.login({ username, password }), 403,
  (e) => assert.equal(e.body.error, 'mfa_required'));
const mfaToken = challenge.body.mfa_token;
assert.ok(mfaToken);
step('login answers mfa_required with an mfa_token');

// The code used to confirm enrolment may not be used again: wait for the next 30-second step if needed.
let code = totp(enrol.body.secret);
const confirmCode = totp(enrol.body.secret);
const waitForNextStep = async () => {
  const now = Date.now() / 1000;
  await new Promise((r) => setTimeout(r, (30 - (now % 30)) * 1000 + 200));
};
if (code === confirmCode) {
  await waitForNextStep();
  code = totp(enrol.body.secret);
}
const second = await particle.sendOtp({ mfaToken, otp: code });
const mfaTokenValue = second.body.access_token;
assert.match(mfaTokenValue, /^bwk_/);
step('sendOtp finishes the two-step login');

const recovery = await particle.login({ username, password }).catch((e) => e);
const viaRecovery = await particle.sendOtp({ mfaToken: recovery.body.mfa_token, otp: confirmed.body.recovery_codes[0] });
assert.match(viaRecovery.body.access_token, /^bwk_/);
const again = await particle.login({ username, password }).catch((e) => e);
await expectHttpError(particle.sendOtp({ mfaToken: again.body.mfa_token, otp: confirmed.body.recovery_codes[0] }), 400);
step('a recovery code works once');

// Token listing is not in api-js 12; call it as the documented API does (Basic auth + otp; a recovery code also works).
const listed = await fetch(`${baseUrl}/v1/access_tokens?otp=${confirmed.body.recovery_codes[1]}`, {
  headers: { Authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64') },
});
assert.equal(listed.status, 200);
const tokens = await listed.json();
assert.ok(tokens.length >= 3, `expected at least 3 tokens, got ${tokens.length}`);
step('GET /v1/access_tokens with Basic auth and otp');

await particle.deleteAccessToken({ token: mfaTokenValue });
await expectHttpError(particle.getUserInfo({ auth: mfaTokenValue }), 401);
step('deleteAccessToken, then 401');

await particle.deleteCurrentAccessToken({ auth: viaRecovery.body.access_token });
await expectHttpError(particle.getUserInfo({ auth: viaRecovery.body.access_token }), 401);
step('deleteCurrentAccessToken, then 401');

await particle.disableMfa({ currentPassword: password, auth: token });
const plain = await particle.login({ username, password });
assert.match(plain.body.access_token, /^bwk_/);
step('disableMfa, then a one-step login');

await particle.deleteActiveAccessTokens({ auth: token });
await expectHttpError(particle.getUserInfo({ auth: token }), 401);
await expectHttpError(particle.getUserInfo({ auth: plain.body.access_token }), 401);
step('deleteActiveAccessTokens revokes every token');
console.log('all particle-api-js account checks passed');
