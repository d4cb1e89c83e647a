// A real OpenID Connect provider (node-oidc-provider, OpenID Certified) on
// loopback for consentflow's sign-in tests. Started by tests/oidc_server.py.
//
// Environment: PORT, REDIRECT_URIS (comma-separated callback URLs).
//
// Accounts: whoever types a login on the provider's own (development) login
// page is that account; its e-mail is the login, its organisation
// (schac_home_organization, as Entree Federatie and SURFconext send it) is
// the e-mail domain. So "juf@school-a.test" belongs to school-a.test and
// "meester@school-b.test" to another organisation.
//
// Clients, all with the same secret:
//   consentflow         a correct client
//   cf-wrong-audience   its ID tokens are re-signed with the provider's own
//                       key for another audience ("some-other-app")
//   cf-expired          its ID tokens are re-signed already expired
// The re-signing happens after the provider built the token response, so
// everything else (state, nonce, PKCE, code exchange, keys) is the real thing.
import { generateKeyPair, exportJWK, decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const redirectUris = (process.env.REDIRECT_URIS || '').split(',').filter(Boolean);
const issuer = `http://127.0.0.1:${port}`;
const SECRET = 'test-client-secret-0123456789abcdef';

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-signing-key', alg: 'RS256', use: 'sig' };

const client = (id) => ({
  client_id: id,
  client_secret: SECRET,
  redirect_uris: redirectUris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [client('consentflow'), client('cf-wrong-audience'), client('cf-expired')],
  jwks: { keys: [jwk] },
  cookies: { keys: ['test-cookie-key-0123456789'] },
  // Claims at the userinfo endpoint only (the ID token carries sub), as Entree
  // Federatie sends them: consentflow must fetch and match them to the ID token.
  conformIdTokenClaims: true,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    org: ['schac_home_organization'],
  },
  scopes: ['openid', 'email', 'profile', 'org'],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const email = String(id).trim().toLowerCase();
    return {
      accountId: email,
      async claims() {
        return {
          sub: email,
          email,
          email_verified: true,
          name: email.split('@')[0],
          schac_home_organization: email.split('@')[1] || '',
        };
      },
    };
  },
});

const TAMPER = {
  'cf-wrong-audience': (claims) => ({ ...claims, aud: 'some-other-app', azp: 'some-other-app' }),
  'cf-expired': (claims) => ({ ...claims, iat: claims.iat - 7200, exp: claims.iat - 3600 }),
};

provider.use(async (ctx, next) => {
  await next();
  const clientId = ctx.oidc?.client?.clientId;
  const tamper = TAMPER[clientId];
  if (ctx.path === '/token' && tamper && ctx.body && ctx.body.id_token) {
    const header = decodeProtectedHeader(ctx.body.id_token);
    const claims = tamper(decodeJwt(ctx.body.id_token));
    ctx.body = {
      ...ctx.body,
      id_token: await new SignJWT(claims).setProtectedHeader(header).sign(privateKey),
    };
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
