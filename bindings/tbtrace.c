/*
** tbtrace.c: the tbtrace interpreter: Lua 5.4 with the tbtrace module preloaded (and bound to
** the global `tbtrace`), a REPL, a script runner, and the `cat` tool for event files.
**
**   tbtrace                        interactive REPL (line editing with readline when built with it)
**   tbtrace script.lua [args...]   run a script; args go to the global `arg` as with lua5.4
**   tbtrace -e 'stat' / -l mod / -i / -v / --version / -
**   tbtrace cat FILE|LOGDIR...     print event files as JSON lines
**   tbtrace ls LOGDIR...           what a logdir holds: runs, tags, traces, profiles
**   tbtrace policy check FILE [fact=value...]   what an export policy decides
**   tbtrace --profile[=OUTDIR] script.lua [args...]   and   tbtrace flame FILE.folded
**                                  profile a script; print a saved profile (profile_cli.h)
**   tbtrace merge RUN_DIR -o OUT   one Chrome trace from a profile run's hosts (merge.c)
**
** At the prompt, values are pretty-printed (tables nested to a bounded depth and width) and Tab
** completes Lua names: globals, keywords, and fields after '.' or ':'.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "cat.h"
#include "lhook.h"
#include "ls.h"
#include "policy_check.h"
#include "profile_cli.h"
#include "merge.h"
#include "tbtrace.h"

#ifdef TBT_USE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

int luaopen_tbtrace(lua_State *L);

static const char *progname = "tbtrace";
static lua_State *globalL;

/* ---------------------------------------------------------------- errors and interrupts */

/* Without the module (it failed to load), Ctrl-C takes Lua's hook as lua5.4 does. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* With it, Ctrl-C goes through the hook multiplexer, so that call tracing, the sampler and the
** user's own hook keep theirs. */
static tbt_hookmux *volatile g_mux;

static void interrupted(lua_State *L, lua_Debug *ar, void *ud) {
  (void)ar;
  (void)ud;
  luaL_error(L, "interrupted!");
}

/* On Ctrl-C, stop the running Lua code at the next hook instead of killing the process. */
static void on_sigint(int sig) {
  signal(sig, SIG_DFL);
  if (g_mux)
    tbt_hook_interrupt(g_mux);
  else
    lua_sethook(globalL, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  g_mux = tbt_hook_mux(L);
  if (g_mux) tbt_hook_set(L, TBT_HOOK_INTERRUPT, 0, 0, interrupted, NULL);
  signal(SIGINT, on_sigint);
  int status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, SIG_DFL);
  if (g_mux) tbt_hook_clear(L, TBT_HOOK_INTERRUPT);   /* also a Ctrl-C that came too late */
  lua_remove(L, base);
  return status;
}

/* ---------------------------------------------------------------- running code */

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

static int dolibrary(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, name);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, name);
  return report(L, status);
}

/* The script's arguments go to `arg` (arg[0] = script) and to the chunk as varargs. */
static int pushargs(lua_State *L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  int n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  int i;
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL;
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

static void createargtable(lua_State *L, char **argv, int argc, int script) {
  if (script == argc) script = 0;
  int narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* ---------------------------------------------------------------- REPL */

#define PROMPT "> "
#define PROMPT2 ">> "

static int read_line(const char *prompt, char *buf, size_t size, char **line) {
#ifdef TBT_USE_READLINE
  (void)buf;
  (void)size;
  *line = readline(prompt);
  return *line != NULL;
#else
  fputs(prompt, stdout);
  fflush(stdout);
  *line = buf;
  return fgets(buf, (int)size, stdin) != NULL;
#endif
}

static void free_line(char *line, char *buf) {
#ifdef TBT_USE_READLINE
  (void)buf;
  free(line);
#else
  (void)line;
  (void)buf;
#endif
}

static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    const char eof[] = "<eof>";
    if (lmsg >= sizeof eof - 1 && strcmp(msg + lmsg - (sizeof eof - 1), eof) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* Reads one statement (more lines while it is incomplete); expressions print their values, as in
** lua5.4 (a line is tried as "return <line>" first). Leaves the compiled chunk on the stack. */
static int loadline(lua_State *L) {
  char buf[4096];
  char *line;
  lua_settop(L, 0);
  if (!read_line(PROMPT, buf, sizeof buf, &line)) return -1;
  size_t l = strlen(line);
  if (l > 0 && line[l - 1] == '\n') line[--l] = '\0';
  lua_pushlstring(L, line, l);
  free_line(line, buf);
  const char *retline = lua_pushfstring(L, "return %s;", lua_tostring(L, 1));
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);
  } else {
    lua_pop(L, 2);
    for (;;) {
      size_t len;
      const char *src = lua_tolstring(L, 1, &len);
      status = luaL_loadbuffer(L, src, len, "=stdin");
      if (!incomplete(L, status)) break;
      if (!read_line(PROMPT2, buf, sizeof buf, &line)) return -1;
      l = strlen(line);
      if (l > 0 && line[l - 1] == '\n') line[--l] = '\0';
      lua_pushliteral(L, "\n");
      lua_pushlstring(L, line, l);
      free_line(line, buf);
      lua_concat(L, 3);
    }
  }
#ifdef TBT_USE_READLINE
  if (lua_rawlen(L, 1) > 0) add_history(lua_tostring(L, 1));
#endif
  lua_remove(L, 1);
  return status;
}

/* The REPL's printer: returns one string for its arguments, tables rendered as constructors.
** Bounded: nested tables deeper than MAXDEPTH print as {...}, tables longer than MAXITEMS end in
** "... (n more)", strings longer than MAXSTR are cut. A rendering wider than a line goes one
** top-level entry per line. Keys are sorted (numbers, then strings, then the rest) so output is
** stable. Metamethods are not run except __tostring, and __name names userdata. */
static const char pretty_src[] =
  "local MAXDEPTH, MAXITEMS, MAXSTR, WIDTH = 4, 16, 200, 100\n"
  "local kw = {}\n"
  "for w in ('and break do else elseif end false for function goto if in local nil not or repeat '\n"
  "  .. 'return then true until while'):gmatch('%a+') do kw[w] = true end\n"
  "local function str(s)\n"
  "  local cut = #s > MAXSTR\n"
  "  local q = string.format('%q', cut and s:sub(1, MAXSTR) or s):gsub('\\\\\\n', '\\\\n')\n"
  "  return cut and q .. '...(' .. #s .. ' bytes)' or q\n"
  "end\n"
  "local function rank(k)\n"
  "  local t = type(k)\n"
  "  return t == 'number' and 1 or t == 'string' and 2 or 3\n"
  "end\n"
  "local function before(a, b)\n"
  "  local ra, rb = rank(a), rank(b)\n"
  "  if ra ~= rb then return ra < rb end\n"
  "  if ra == 3 then return tostring(a) < tostring(b) end\n"
  "  return a < b\n"
  "end\n"
  "local render\n"
  "local function entries(t, depth, seen)\n"
  "  local out, n = {}, rawlen(t)\n"
  "  local keys, total = {}, 0\n"
  "  for k in next, t do\n"
  "    total = total + 1\n"
  "    if not (math.type(k) == 'integer' and k >= 1 and k <= n) then keys[#keys + 1] = k end\n"
  "  end\n"
  "  table.sort(keys, before)\n"
  "  for i = 1, n do\n"
  "    if #out >= MAXITEMS then break end\n"
  "    out[#out + 1] = render(rawget(t, i), depth + 1, seen)\n"
  "  end\n"
  "  for _, k in ipairs(keys) do\n"
  "    if #out >= MAXITEMS then break end\n"
  "    local ks\n"
  "    if type(k) == 'string' and k:match('^[%a_][%w_]*$') and not kw[k] then ks = k\n"
  "    else ks = '[' .. render(k, MAXDEPTH, seen) .. ']' end\n"
  "    out[#out + 1] = ks .. ' = ' .. render(rawget(t, k), depth + 1, seen)\n"
  "  end\n"
  "  if total > #out then out[#out + 1] = '... (' .. (total - #out) .. ' more)' end\n"
  "  return out\n"
  "end\n"
  "render = function(v, depth, seen)\n"
  "  local t = type(v)\n"
  "  if t == 'string' then return str(v) end\n"
  "  local mt = getmetatable(v)\n"
  "  if type(mt) == 'table' and rawget(mt, '__tostring') then\n"
  "    local ok, s = pcall(tostring, v)\n"
  "    return ok and type(s) == 'string' and s or '<' .. t .. '>'\n"
  "  end\n"
  "  if t ~= 'table' then return tostring(v) end\n"
  "  if seen[v] then return '<cycle>' end\n"
  "  if depth >= MAXDEPTH then return next(v) == nil and '{}' or '{...}' end\n"
  "  seen[v] = true\n"
  "  local out = entries(v, depth, seen)\n"
  "  seen[v] = nil\n"
  "  return #out == 0 and '{}' or '{' .. table.concat(out, ', ') .. '}'\n"
  "end\n"
  "return function(...)\n"
  "  local parts = table.pack(...)\n"
  "  for i = 1, parts.n do\n"
  "    local v = parts[i]\n"
  "    if type(v) == 'table' then\n"
  "      local line = render(v, 0, {})\n"
  "      if #line > WIDTH and next(v) ~= nil and not (getmetatable(v) or {}).__tostring then\n"
  "        local seen = {[v] = true}\n"
  "        line = '{\\n  ' .. table.concat(entries(v, 0, seen), ',\\n  ') .. '\\n}'\n"
  "      end\n"
  "      parts[i] = line\n"
  "    else\n"
  "      parts[i] = tostring(v)\n"
  "    end\n"
  "  end\n"
  "  return table.concat(parts, '\\t', 1, parts.n)\n"
  "end\n";

#define PRETTY_KEY "tbtrace.repl_pretty"

static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  if (lua_getfield(L, LUA_REGISTRYINDEX, PRETTY_KEY) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, pretty_src, sizeof pretty_src - 1, "=repl") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
      fprintf(stderr, "%s: %s\n", progname ? progname : "tbtrace", lua_tostring(L, -1));
      lua_settop(L, 0);
      return;
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, PRETTY_KEY);
  }
  lua_insert(L, 1);
  if (lua_pcall(L, n, 1, 0) != LUA_OK) {
    fprintf(stderr, "%s: error printing the results (%s)\n", progname ? progname : "tbtrace", lua_tostring(L, -1));
  } else {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    fwrite(s, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
  }
  lua_settop(L, 0);
}

#ifdef TBT_USE_READLINE
/* ---------------------------------------------------------------- Tab completion */

static const char *const lua_keywords[] = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
  "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", NULL
};

/* Pushes the table whose fields complete `text[0..len)` (a dotted path of names from the globals),
** or nothing and returns 0. Only plain lookups: no metamethod runs, except that a value's
** metatable's __index table (a userdata's methods) is used for what follows ':' or '.'. */
static int push_scope(lua_State *L, const char *text, size_t len) {
  lua_pushglobaltable(L);
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && text[j] != '.' && text[j] != ':') j++;
    if (lua_type(L, -1) != LUA_TTABLE) {
      lua_pop(L, 1);
      return 0;
    }
    lua_pushlstring(L, text + i, j - i);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    i = j + 1;
  }
  if (lua_type(L, -1) != LUA_TTABLE) {
    if (!lua_getmetatable(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    lua_remove(L, -2);
    if (lua_type(L, -1) != LUA_TTABLE) {
      lua_pop(L, 1);
      return 0;
    }
  }
  return 1;
}

static char **g_matches;
static size_t g_nmatches, g_capmatches;

static void add_match(const char *prefix, size_t plen, const char *name, const char *suffix) {
  if (g_nmatches + 2 > g_capmatches) {
    size_t cap = g_capmatches ? g_capmatches * 2 : 32;
    char **m = realloc(g_matches, cap * sizeof *m);
    if (!m) return;
    g_matches = m;
    g_capmatches = cap;
  }
  size_t n = plen + strlen(name) + strlen(suffix) + 1;
  char *s = malloc(n);
  if (!s) return;
  snprintf(s, n, "%.*s%s%s", (int)plen, prefix, name, suffix);
  g_matches[g_nmatches++] = s;
}

/* Fills g_matches with the completions of text: its scope's string keys starting with the last
** name in text; a function gets "(" appended, a table "." */
static void collect(lua_State *L, const char *text) {
  const char *last = text;
  for (const char *p = text; *p; p++)
    if (*p == '.' || *p == ':') last = p + 1;
  size_t plen = (size_t)(last - text), nlen = strlen(last);
  int top = lua_gettop(L);
  if (plen == 0)
    for (int k = 0; lua_keywords[k]; k++)
      if (strncmp(lua_keywords[k], last, nlen) == 0) add_match("", 0, lua_keywords[k], " ");
  if (!lua_checkstack(L, 8) || !push_scope(L, text, plen ? plen - 1 : 0)) {
    lua_settop(L, top);
    return;
  }
  /* fields of the table, then of tables reached through __index (globals of the REPL, methods) */
  for (int hops = 0; hops < 4 && lua_type(L, -1) == LUA_TTABLE; hops++) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, -2);
        if (strncmp(k, last, nlen) == 0) {
          int t = lua_type(L, -1);
          add_match(text, plen, k, t == LUA_TFUNCTION ? "(" : t == LUA_TTABLE ? "." : "");
        }
      }
      lua_pop(L, 1);
    }
    if (!lua_getmetatable(L, -1)) break;
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    lua_remove(L, -2);
  }
  lua_settop(L, top);
}

static char *next_match(const char *text, int state) {
  (void)text;
  static size_t i;
  if (state == 0) i = 0;
  return i < g_nmatches ? strdup(g_matches[i++]) : NULL;
}

static char **complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  for (size_t i = 0; i < g_nmatches; i++) free(g_matches[i]);
  g_nmatches = 0;
  collect(globalL, text);
  rl_attempted_completion_over = 1;   /* never file names */
  rl_completion_append_character = '\0';
  if (g_nmatches == 0) return NULL;
  return rl_completion_matches(text, next_match);
}

static void init_completion(lua_State *L) {
  globalL = L;
  rl_readline_name = "tbtrace";
  rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]})";
  rl_attempted_completion_function = complete;
}
#endif

static void repl(lua_State *L) {
  const char *old = progname;
  progname = NULL;
#ifdef TBT_USE_READLINE
  init_completion(L);
#endif
  int status;
  while ((status = loadline(L)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) print_results(L);
    else {
      const char *msg = lua_tostring(L, -1);
      fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
      lua_pop(L, 1);
    }
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  progname = old;
}

/* ---------------------------------------------------------------- main */

static void print_version(void) {
  printf("tbtrace %s (%s)\n", TBT_VERSION, LUA_RELEASE);
}

static void print_usage(void) {
  fprintf(stderr,
          "usage: %s [options] [script [args]]\n"
          "       %s cat [--skip-corrupt] [--tag PATTERN] FILE|LOGDIR...\n"
          "       %s ls LOGDIR...\n"
          "       %s policy check FILE [fact=value ...]\n"
          "       %s --profile[=OUTDIR] [--calls] [--hz=N] script.lua [args]\n"
          "       %s flame FILE.folded\n"
          "       %s merge RUN_DIR -o OUT.trace.json.gz\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -v        show version information (--version: and exit)\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n",
          progname, progname, progname, progname, progname, progname, progname);
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  luaL_checkversion(L);
  luaL_openlibs(L);
  /* require "tbtrace" finds the built-in module, and the global is there for the REPL. */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_tbtrace);
  lua_setfield(L, -2, "tbtrace");
  lua_pop(L, 1);
  if (dolibrary(L, "tbtrace") != LUA_OK) return 0;
  lua_gc(L, LUA_GCGEN, 0, 0);

  int interactive = 0, version = 0, script = 0, i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      script = i;
      break;
    }
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) script = i + 1;
      break;
    }
    if (strcmp(a, "-") == 0) {
      script = i;
      break;
    }
    if (strcmp(a, "-i") == 0) interactive = version = 1;
    else if (strcmp(a, "-v") == 0) version = 1;
    else if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0) {
      if (++i >= argc) {
        print_usage();
        return 0;
      }
    } else if (strcmp(a, "--version") == 0) {
      print_version();
      lua_pushboolean(L, 1);
      return 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      print_usage();
      lua_pushboolean(L, 1);
      return 1;
    } else {
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
      print_usage();
      return 0;
    }
  }
  createargtable(L, argv, argc, script);
  if (version) print_version();
  /* -e and -l run in order, before the script. */
  int last = script ? script : argc;
  for (int j = 1; j < last; j++) {
    if (strcmp(argv[j], "-e") == 0) {
      if (dostring(L, argv[++j], "=(command line)") != LUA_OK) return 0;
    } else if (strcmp(argv[j], "-l") == 0) {
      if (dolibrary(L, argv[++j]) != LUA_OK) return 0;
    }
  }
  if (script && handle_script(L, argv + script) != LUA_OK) return 0;
  if (interactive) {
    repl(L);
  } else if (!script && last == argc && !version) {
    int only_flags = 0;
    for (int j = 1; j < argc; j++)
      if (strcmp(argv[j], "-e") == 0 || strcmp(argv[j], "-l") == 0) only_flags = 1;
    if (!only_flags) {
      if (isatty(0)) {
        print_version();
        repl(L);
      } else {
        dochunk(L, luaL_loadfile(L, NULL));
      }
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "cat") == 0) return tbt_cat_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "ls") == 0) return tbt_ls_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "policy") == 0) return tbt_policy_check_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "flame") == 0) return tbt_flame_main(argc - 1, argv + 1);
  if (argc > 1 && strncmp(argv[1], "--profile", 9) == 0 && strchr("=", argv[1][9]))
    return tbt_profile_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "merge") == 0) return tbt_merge_main(argc - 1, argv + 1);
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int result = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
