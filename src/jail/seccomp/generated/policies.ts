// Checked-in fallback: no policy is embedded, so embeddedPolicy() compiles from policy/ at run time.
// build.ts overwrites this file with renderPoliciesModule(compileEmbeddablePolicies("policy")) before
// `bun build --compile`, so the executable carries its filters (as crosvm embeds its compiled policies).
export const EMBEDDED_POLICIES: Readonly<Record<string, string>> | null = null;
