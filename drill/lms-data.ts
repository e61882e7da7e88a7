/**
 * LMS-shaped data for the drill: what a learning platform's database holds, so that the measured
 * base-backup compression and WAL volume are the ones a restore of production will see, not
 * pgbench's (whose rows are mostly padding and shrink to 6 %).
 *
 * Tables: users (JSONB profile), courses (long descriptions, JSONB settings), lessons (long bodies,
 * TOASTed and pglz-compressed by PostgreSQL itself, a full-text GIN index), enrollments (JSONB
 * progress), submissions (answers and feedback), events (the activity log, JSONB payloads, the
 * largest table), with the B-tree and GIN indexes an LMS would have. Text is drawn from a fixed
 * vocabulary with Zipf-distributed word frequencies, as natural language is: it compresses about as
 * well as prose (the unit test checks that gzip leaves 25-45 % of it, as it does of English text).
 * Deterministic (seeded): the same scale gives the same rows.
 */

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const syllables = ['ka', 'lo', 'mi', 'ne', 'ra', 'tu', 'si', 'po', 'de', 'ga', 'ri', 'ven', 'tor', 'al', 'en', 'is', 'um', 'ex', 'con', 'pre', 'tion', 'ment', 'ing', 'ed', 'er', 'ly', 'ab', 'ob', 'sta', 'tri', 'qua', 'ph', 'the', 'and', 'ver', 'lum', 'mo', 'ce', 'di', 'fa'];

/** Text generator: a 10000-word vocabulary, word i drawn with probability ~ 1/(i+1) (Zipf). */
export class TextGen {
  private readonly words: string[];
  private readonly cdf: Float64Array;
  constructor(readonly rnd: () => number) {
    const seen = new Set<string>();
    const common = ['the', 'of', 'and', 'to', 'a', 'in', 'is', 'that', 'for', 'it', 'as', 'with', 'be', 'on', 'this', 'by', 'are', 'or', 'we', 'an'];
    for (const w of common) seen.add(w);
    while (seen.size < 10000) {
      const n = 1 + Math.floor(rnd() * 4);
      let w = '';
      for (let i = 0; i < n; i++) w += syllables[Math.floor(rnd() * syllables.length)];
      seen.add(w);
    }
    this.words = [...seen];
    this.cdf = new Float64Array(this.words.length);
    let acc = 0;
    for (let i = 0; i < this.words.length; i++) this.cdf[i] = acc += 1 / (i + 1);
    for (let i = 0; i < this.cdf.length; i++) this.cdf[i] /= acc;
  }

  word(): string {
    const x = this.rnd();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return this.words[lo];
  }

  /** About `chars` characters of sentences. */
  text(chars: number): string {
    const parts: string[] = [];
    let len = 0;
    while (len < chars) {
      const n = 6 + Math.floor(this.rnd() * 14);
      const ws: string[] = [];
      for (let i = 0; i < n; i++) ws.push(this.word());
      const s = `${ws[0][0].toUpperCase()}${ws.join(' ').slice(1)}.`;
      parts.push(s);
      len += s.length + 1;
    }
    return parts.join(' ');
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)];
  }
}

export const lmsTables = ['users', 'courses', 'lessons', 'enrollments', 'submissions', 'events'] as const;

export const lmsSchemaSql = `
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL, locale text NOT NULL, created_at timestamptz NOT NULL, profile jsonb NOT NULL);
CREATE TABLE courses (id bigint PRIMARY KEY, title text NOT NULL, description text NOT NULL, settings jsonb NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE lessons (id bigint PRIMARY KEY, course_id bigint NOT NULL, position int NOT NULL, title text NOT NULL, body text NOT NULL);
CREATE TABLE enrollments (id bigint PRIMARY KEY, user_id bigint NOT NULL, course_id bigint NOT NULL, status text NOT NULL, enrolled_at timestamptz NOT NULL, progress jsonb NOT NULL);
CREATE TABLE submissions (id bigint PRIMARY KEY, enrollment_id bigint NOT NULL, lesson_id bigint NOT NULL, submitted_at timestamptz NOT NULL, answer text NOT NULL, grade numeric(5,2), feedback text);
CREATE TABLE events (id bigint PRIMARY KEY, user_id bigint NOT NULL, occurred_at timestamptz NOT NULL, type text NOT NULL, payload jsonb NOT NULL);
`;

export const lmsIndexSql = `
CREATE UNIQUE INDEX users_email ON users (email);
CREATE UNIQUE INDEX enrollments_user_course ON enrollments (user_id, course_id);
CREATE INDEX enrollments_course ON enrollments (course_id);
CREATE INDEX lessons_course ON lessons (course_id, position);
CREATE INDEX lessons_search ON lessons USING gin (to_tsvector('english', body));
CREATE INDEX submissions_enrollment ON submissions (enrollment_id);
CREATE INDEX submissions_lesson_time ON submissions (lesson_id, submitted_at);
CREATE INDEX events_user_time ON events (user_id, occurred_at);
CREATE INDEX events_payload ON events USING gin (payload jsonb_path_ops);
ANALYZE;
`;

/** Rows per unit of scale (~15 MB of tables and indexes per unit). */
export const perUnit = { users: 600, courses: 6, lessonsPerCourse: 12, enrollments: 3000, submissions: 5000, events: 28000 } as const;

const locales = ['en', 'de', 'fr', 'bg', 'es', 'it', 'pl', 'nl'];
const eventTypes = ['lesson.viewed', 'lesson.completed', 'quiz.started', 'quiz.submitted', 'video.played', 'video.paused', 'login', 'logout', 'forum.posted', 'file.downloaded'];
const agents = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36',
];
const statuses = ['active', 'active', 'active', 'completed', 'dropped'];
const epoch = Date.UTC(2025, 8, 1);

const ts = (g: TextGen, spanDays = 400) => new Date(epoch + g.int(spanDays * 86400) * 1000).toISOString();
const json = (o: unknown) => JSON.stringify(o);

/** COPY text-format rows; the generator never emits tabs, newlines or backslashes. */
type Row = (string | number | null)[];
const line = (r: Row) => r.map((v) => (v === null ? '\\N' : String(v))).join('\t');

export interface LmsSizes {
  users: number; courses: number; lessons: number; enrollments: number; submissions: number; events: number;
}

export function lmsSizes(scale: number): LmsSizes {
  const courses = Math.max(2, Math.round(perUnit.courses * scale));
  const users = Math.max(1, Math.round(perUnit.users * scale));
  return {
    users,
    courses,
    lessons: courses * perUnit.lessonsPerCourse,
    enrollments: Math.min(users * courses, Math.round(perUnit.enrollments * scale)),
    submissions: Math.round(perUnit.submissions * scale),
    events: Math.round(perUnit.events * scale),
  };
}

/**
 * Rows of one table, `from`..`to` (ids), in chunks of COPY text. Row content depends only on the
 * seed and the id range's generator state, so loads are repeatable.
 */
export function* lmsRows(table: (typeof lmsTables)[number], from: number, to: number, sizes: LmsSizes, g: TextGen, chunkRows = 5000): Generator<string> {
  let buf: string[] = [];
  for (let id = from; id <= to; id++) {
    buf.push(line(rowOf(table, id, sizes, g)));
    if (buf.length >= chunkRows) {
      yield `${buf.join('\n')}\n`;
      buf = [];
    }
  }
  if (buf.length) yield `${buf.join('\n')}\n`;
}

function rowOf(table: (typeof lmsTables)[number], id: number, s: LmsSizes, g: TextGen): Row {
  switch (table) {
    case 'users': {
      const first = g.word();
      const last = g.word();
      return [id, `${first}.${last}.${id}@${g.pick(['example.com', 'uni.example.org', 'school.example.net'])}`, `${first[0].toUpperCase()}${first.slice(1)} ${last[0].toUpperCase()}${last.slice(1)}`,
        g.pick(locales), ts(g, 700), json({ bio: g.text(60 + g.int(200)), timezone: g.pick(['Europe/Sofia', 'Europe/Berlin', 'UTC', 'America/New_York']), notifications: { email: g.rnd() < 0.7, push: g.rnd() < 0.4, digest: g.pick(['daily', 'weekly', 'never']) }, theme: g.pick(['light', 'dark', 'system']) })];
    }
    case 'courses':
      return [id, g.text(40), g.text(1500 + g.int(3000)), json({ visibility: g.pick(['public', 'private', 'unlisted']), grading: { scheme: g.pick(['points', 'percent', 'pass-fail']), passMark: 50 + g.int(40) }, tags: [g.word(), g.word(), g.word()], language: g.pick(locales) }), ts(g, 700)];
    case 'lessons':
      return [id, 1 + Math.floor((id - 1) / perUnit.lessonsPerCourse), ((id - 1) % perUnit.lessonsPerCourse) + 1, g.text(50), g.text(3000 + g.int(9000))];
    case 'enrollments': {
      // Each (user, course) pair at most once: pair k is user k % users in course (user + k / users) % courses.
      const k = id - 1;
      const user = k % s.users;
      const course = (user + Math.floor(k / s.users)) % s.courses;
      return [id, 1 + user, 1 + course, g.pick(statuses), ts(g), json({ completedLessons: Array.from({ length: g.int(8) }, () => 1 + g.int(s.lessons)), percent: g.int(101), lastLessonId: 1 + g.int(s.lessons), lastSeenAt: ts(g) })];
    }
    case 'submissions':
      return [id, 1 + g.int(s.enrollments), 1 + g.int(s.lessons), ts(g), g.text(200 + g.int(1200)), g.rnd() < 0.8 ? (g.int(10001) / 100).toFixed(2) : null, g.rnd() < 0.5 ? g.text(60 + g.int(300)) : null];
    case 'events': {
      const type = g.pick(eventTypes);
      return [id, 1 + g.int(s.users), ts(g), type, json({
        lessonId: 1 + g.int(s.lessons), courseId: 1 + g.int(s.courses), durationMs: g.int(600000), path: `/courses/${1 + g.int(s.courses)}/lessons/${1 + g.int(s.lessons)}`,
        userAgent: g.pick(agents), ip: `10.${g.int(256)}.${g.int(256)}.${g.int(256)}`, sessionId: Math.floor(g.rnd() * 2 ** 52).toString(36),
        ...(type.startsWith('quiz') ? { score: g.int(101), attempt: 1 + g.int(3) } : {}),
      })];
    }
  }
}

/**
 * A stretch of LMS traffic for the WAL: new events and submissions (ids from `firstId` up), and
 * progress updates of a share of the enrollments. Returns SQL for the updates; the inserts are COPY
 * chunks of the tables.
 */
export function lmsTraffic(scale: number, sizes: LmsSizes, firstId: number, g: TextGen): { copies: { table: 'events' | 'submissions'; chunks: Generator<string> }[]; updateSql: string } {
  const events = Math.round(perUnit.events * scale * 0.3);
  const submissions = Math.round(perUnit.submissions * scale * 0.2);
  return {
    copies: [
      { table: 'events', chunks: lmsRows('events', firstId, firstId + events - 1, sizes, g) },
      { table: 'submissions', chunks: lmsRows('submissions', firstId, firstId + submissions - 1, sizes, g) },
    ],
    updateSql: `UPDATE enrollments SET progress = jsonb_set(jsonb_set(progress, '{percent}', to_jsonb(least(100, (progress->>'percent')::int + 5))), '{lastSeenAt}', to_jsonb(clock_timestamp()::text)) WHERE id % 5 = ${firstId % 5}`,
  };
}
