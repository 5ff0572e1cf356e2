/**
 * Headless Chromium for the dashboard tests: Debian's /usr/bin/chromium driven by playwright-core, so no browser
 * is downloaded. Without Chromium the browser tests are skipped locally and fail on CI.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

/** `null` and a reason when there is no browser to run; throws on CI, where a missing browser is a failure. */
export function chromiumMissing (): string | null {
  if (existsSync(CHROMIUM_PATH)) return null
  const reason = `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`
  if (process.env.CI) throw new Error(`browser tests cannot run on CI: ${reason}`)
  return reason
}

export interface BrowserSession {
  browser: Browser
  close (): Promise<void>
}

/** A fresh browser: playwright gives every launch a new, temporary profile and deletes it on close. */
export async function launchBrowser (): Promise<BrowserSession> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS })
  return { browser, close: () => browser.close() }
}

export interface WatchedPage {
  context: BrowserContext
  page: Page
  /** Every URL the page requested, in order. */
  requests: string[]
  /** Console errors and warnings, page errors (uncaught exceptions) and failed requests. */
  problems: string[]
}

export interface PageOptions {
  width?: number
  height?: number
  colorScheme?: 'light' | 'dark'
  /** Device pixel ratio; 2 makes sharp screenshots for the README. */
  scale?: number
  /** Touch and a mobile user agent layout (meta viewport honoured). */
  mobile?: boolean
  /** Answers an HTTP auth challenge, as a person typing into the browser's prompt would. */
  httpCredentials?: { username: string, password: string }
}

/** A page in a fresh context that records every request and every console problem. */
export async function openPage (session: BrowserSession, opts: PageOptions = {}): Promise<WatchedPage> {
  const context = await session.browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    colorScheme: opts.colorScheme ?? 'light',
    deviceScaleFactor: opts.scale ?? 1,
    isMobile: opts.mobile ?? false,
    hasTouch: opts.mobile ?? false,
    reducedMotion: 'reduce',
    ...(opts.httpCredentials === undefined ? {} : { httpCredentials: opts.httpCredentials })
  })
  const page = await context.newPage()
  const requests: string[] = []
  const problems: string[] = []
  page.on('request', (request) => { requests.push(request.url()) })
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => { problems.push(`page error: ${error.message}`) })
  page.on('requestfailed', (request) => {
    // The live stream is cut on purpose when a test closes the page or the server.
    if (!request.url().endsWith('/api/stream')) problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`)
  })
  return { context, page, requests, problems }
}

/** The two viewports the dashboard is checked and pictured at: a desktop and a phone. */
export const DASHBOARD_SHOTS = [
  { name: 'desktop', width: 1280, height: 800, scale: 1, mobile: false },
  { name: 'phone', width: 390, height: 844, scale: 2, mobile: true }
] as const

/** `url` (a dashboard) in a fresh page, once its live stream is connected and its endpoints table has `rows` rows. */
export async function openLiveDashboard (session: BrowserSession, url: string, opts: PageOptions = {}, rows = 4): Promise<WatchedPage> {
  const watched = await openPage(session, opts)
  await watched.page.goto(url)
  await watched.page.waitForSelector('#connection[data-mode="live"]')
  await watched.page.waitForFunction((least) => document.querySelectorAll('#endpoints-body tr').length >= least, rows)
  return watched
}
