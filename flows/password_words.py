"""Chinese words a guesser tries first, in pinyin, for the password policy (flows/admin.password_problem):
zxcvbn's own dictionaries are English, so `zhangwei123` or `woaiwojia888` would pass as random letters.

Sources (kept approximate on purpose: the point is the guesser's first tries, not a census): surnames —
about the 100 most common, after the ranking of 公安部户政管理研究中心《二〇二〇年全国姓名报告》; given names — frequent
given-name characters and the most repeated full names of that report (张伟, 王伟, 王芳, 李伟, 李娜 …), plus the
placeholder names 张三/李四/王五/赵六 and textbook 小明/小红; phrases — pinyin phrases that Li, Han and Xu found
common in leaked Chinese passwords ("A Large-Scale Empirical Analysis of Chinese Web Passwords", USENIX
Security 2014: woaini, pinyin names, …) and the words of a sign-in form (mima, denglu, zhanghao …).
Characters are kept as characters and converted by `pypinyin`, so the lists read as what they are.
"""

from functools import lru_cache

from pypinyin import lazy_pinyin

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩邓冯曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔"
    "谭陆范汪廖石金贾韦夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤康易乔赖文"
)
GIVEN_NAMES = (  # space-separated
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 华 辉 鹏 飞 玲 红 英 燕 婷 浩 宇 欣 雪 梅 琳 斌 波 "
    "晨 阳 颖 倩 佳 俊 峰 鑫 龙 秀英 桂英 秀兰 建华 建国 建军 志强 海燕 晓明 小明 小红 小龙 小刚 小燕 子涵 子轩 "
    "浩然 欣怡 梓涵 一诺 张伟 王伟 王芳 李伟 李娜 张敏 李静 王静 刘伟 王秀英 张丽 李强 王磊 张三 李四 王五 赵六"
)
PHRASES = (
    "woaini", "woaiwojia", "woaiwoma", "woaiwoba", "woainimen", "woaizhongguo", "woshi", "woshishui",
    "woshizhongguoren", "zhongguo", "zhongguoren", "zhonghua", "aini", "nihao", "nihaoma", "wojia", "woai",
    "laogong", "laopo", "baobao", "baobei", "qinai", "xingfu", "kuaile", "pingan", "yiqi", "yisheng", "yishi",
    "tiantian", "xiangxiang", "zhenai", "mima", "dengji", "denglu", "zhanghao", "yonghu", "guanliyuan",
)
# administrative suffixes: 文水县 is also said 文水, 刘胡兰镇 刘胡兰
PLACE_SUFFIXES = ("街道办事处", "街道", "社区", "网格", "分局", "县", "市", "区", "镇", "乡", "村", "局")


def pinyin(text: str) -> str:
    """`text` in toneless pinyin without spaces, lower case (刘胡兰镇 → liuhulanzhen); other characters kept."""
    return "".join(lazy_pinyin(text)).lower().replace(" ", "")


@lru_cache(maxsize=1)
def common_words() -> tuple[str, ...]:
    """Common surnames, given names and phrases in pinyin, most guessable first (zxcvbn ranks by position)."""
    words = [*PHRASES, *(pinyin(c) for c in SURNAMES), *(pinyin(n) for n in GIVEN_NAMES.split())]
    return tuple(dict.fromkeys(w for w in words if len(w) >= 2))


def name_words(*names: str) -> list[str]:
    """A person's or a place's name as a guesser would type it: its pinyin, and for a place also without its
    administrative suffix (凤城镇 → fengchengzhen, fengcheng; 文水县 → wenshuixian, wenshui). Names already
    in Latin letters are kept, lower case. Empty names are left out."""
    out: list[str] = []
    for name in names:
        name = (name or "").strip()
        if not name:
            continue
        out.append(pinyin(name))
        for suffix in PLACE_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix) + 1:
                out.append(pinyin(name[: -len(suffix)]))
                break
    return [w for w in dict.fromkeys(out) if len(w) >= 2]
