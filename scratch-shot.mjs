import { chromium } from 'playwright-core'
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless','--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] })
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
await page.goto('http://localhost:3055/dashboard')
await page.waitForTimeout(Number(process.argv[2] ?? 3000))
await page.screenshot({ path: process.argv[3] ?? '/tmp/shot.png', fullPage: true })
await browser.close()
