/**
 * Runs `fn` with some environment variables set (a value) or unset (`undefined`), then puts back exactly what was
 * there: a variable that was absent is deleted again (assigning `undefined` to process.env would store the string
 * "undefined"). The plugin reads the environment at register time, so `fn` is usually the `buildApp(...)` call.
 */
export async function withEnv<T> (vars: Record<string, string | undefined>, fn: () => T | Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>()
  for (const [name, value] of Object.entries(vars)) {
    saved.set(name, Object.hasOwn(process.env, name) ? process.env[name] : undefined)
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  try {
    return await fn()
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}
