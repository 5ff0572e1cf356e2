/**
 * A real nginx in front of an app, configured the way a VPS tutorial does it (Host, X-Real-IP, X-Forwarded-For,
 * X-Forwarded-Proto), on loopback. Without nginx the proxy tests are skipped locally and fail on CI.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './processes.js'

export const NGINX_PATH = process.env.NGINX_PATH ?? '/usr/sbin/nginx'

/** `null` when nginx can run, else why not; throws on CI, where a missing nginx is a failure. */
export function nginxMissing (): string | null {
  if (existsSync(NGINX_PATH)) return null
  const reason = `no nginx at ${NGINX_PATH} (apt-get install -y nginx, or set NGINX_PATH)`
  if (process.env.CI) throw new Error(`proxy tests cannot run on CI: ${reason}`)
  return reason
}

function accepts (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

export interface Proxy {
  origin: string
  close (): Promise<void>
}

/** Starts nginx proxying to `upstreamPort`; resolves once it accepts connections (at most 10 s). */
export async function startNginx (upstreamPort: number): Promise<Proxy> {
  const dir = mkdtempSync(join(tmpdir(), 'server-watch-nginx-'))
  const port = await freePort()
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`)
  const child: ChildProcess = spawn(NGINX_PATH, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (chunk) => { stderr += String(chunk) })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const close = async () => {
    child.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())])
    rmSync(dir, { recursive: true, force: true })
  }
  for (let tries = 0; tries < 100; tries++) {
    if (child.exitCode !== null) break
    if (await accepts(port)) return { origin: `http://127.0.0.1:${port}`, close }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await close()
  throw new Error(`nginx did not start: ${stderr}`)
}
