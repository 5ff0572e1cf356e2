// Relative links (and <img src>) in README.md and docs/*.md: each must name a file that exists and, after `#`, a heading of it
// (GitHub's anchors: lower case, punctuation dropped, spaces to hyphens, a repeated heading gets -1, -2...).
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

export function githubAnchors (markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    const heading = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)
    if (heading === null) continue
    const slug = heading[1]!.replace(/<[^>]+>/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

/** `file: target` for every relative link of README.md and docs/*.md that does not resolve. */
export function brokenLinks (root: string): string[] {
  const docs = join(root, 'docs')
  const files = [join(root, 'README.md'), ...readdirSync(docs).filter((name) => name.endsWith('.md')).map((name) => join(docs, name))]
  const broken: string[] = []
  for (const file of files) {
    const text = readFileSync(file, 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, '').replace(/`[^`\n]*`/g, '')
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)|^\[[^\]]+\]:\s*(\S+)|<img\s[^>]*\bsrc="([^"]+)"/gm)) {
      const target = match[1] ?? match[2] ?? match[3]!
      if (/^[a-z][a-z+.-]*:/i.test(target)) continue // http:, https:, mailto:
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const linked = path === '' ? file : join(dirname(file), decodeURIComponent(path))
      const where = `${relative(root, file)}: ${target}`
      if (!existsSync(linked)) {
        broken.push(where)
      } else if (anchor !== undefined && linked.endsWith('.md') && !githubAnchors(readFileSync(linked, 'utf8')).has(anchor)) {
        broken.push(where)
      }
    }
  }
  return broken
}
