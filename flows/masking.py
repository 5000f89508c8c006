"""Masking personal data in text published to the public (行政执法公示). Pure: no I/O, no database.

The rules, applied in this order by `mask(text, names)`:

1. Full-width digits and letters (１３８…, typed by Chinese input methods) are folded to ASCII first, so the
   patterns below see them.
2. ID card numbers (居民身份证号码) are removed: 18 characters (6-digit area code, birth date 18xx–20xx with a real
   month and day, 3-digit sequence, a check digit 0–9 or X) and the old 15-digit form (yymmdd birth date);
   each becomes "[身份证号已隐去]".
3. Phone numbers are removed: mobiles 1[3-9] + 9 digits (with an optional +86 / 86 prefix, spaces or hyphens
   in the usual 3-4-4 places), landlines with an area code (0 + 2–3 digits, in brackets or not, then a
   hyphen or space, then 7–8 digits, an optional extension "-801" / "转801"); each becomes "[电话已隐去]".
   Numbers without an area code (e.g. 3021234) are not recognised as phones: they are too easily a sum or a
   file number.
4. Bank card numbers (16–19 digits, run together or in groups of four) → "[银行卡号已隐去]"; vehicle plates
   (province character + letter + 5–6 letters/digits: 晋J12345, 晋AD12345) → "[车牌号已隐去]"; WeChat and QQ ids
   written after 微信/微信号/QQ/QQ号 → the label + "[已隐去]" ("微信 sun_12345" → "微信 [已隐去]").
5. Names are first FOUND, then every occurrence of every found name is masked (a name found after 当事人 is
   masked at its second, bare mention too): surname + 某 (张三 → 张某, 欧阳娜娜 → 欧阳某); two-character compound
   surnames (欧阳, 司马, 诸葛 …) are kept whole; longest names first. Names are found by four nets:
   a. names the case knows (the reporter, the officers, the Open311 requester: the `names` argument), exactly;
      only names written in Chinese characters (2–4) — an ASCII login name is not a person's name;
   b. rule: a name after a word that introduces a person in enforcement texts (TRIGGERS: 当事人, 户主, 村民,
      经营户, 养殖户, 犯罪嫌疑人, 行为人 …, and family words 妻子, 丈夫, 其子, 女儿, 母亲, 家属 …), optionally
      followed by 为/是/系 ("当事人为王建国"). A name here is a common surname (the list below) and one or two more
      characters, stopping before the function characters that follow a name (已, 于, 在, 的, 等, 家 …; 家 is
      allowed in the middle: 马家豪); a list joined by 、 和 及 与 is masked as a whole;
   c. rule: a name (surname + one or two characters) right before a title — 书记, 主任, 村长, 镇长, 局长, 队长,
      经理, 老板, 会计, 同志, 先生, 女士 … ("张建华书记" → "张某书记"); a bare surname before a title (李主任) shows
      no more than 李某 would and is left; and a compound surname (欧阳, 诸葛 … those that are no common word)
      with one or two characters, anywhere;
   d. jieba's part-of-speech tagger (a maintained Chinese segmenter with a person-name dictionary and an HMM for
      unseen names): each word tagged nr (person name), 2–4 characters, that starts with a known surname. It
      catches names in free text with no trigger ("王建国表示同意", "经走访刘洋了解"); it misses rare names and
      names jieba splits, and may mask a word that looks like a name (over-masking is preferred to leaking).
      The dictionary is loaded once, lazily (about 1 s), and cached for the process.
6. Already half-masked names collapse to the same form: 王某某 → 王某.
7. Addresses are cut to the village or community (村/社区 level): the house-level parts written after a
   village, community, estate, street, road or home (…家) — 3组, 第三村民小组, 15号, 5号楼, 2单元, 301室, 3栋,
   2层, 4排, 6户, 301住户 — and a bare room number after them are removed ("凤城镇城关村3组15号" → "凤城镇城关村",
   "幸福小区5号楼2单元301住户" → "幸福小区住户", "东街12号院内" → "东街院内"); 门牌12号 → 门牌. A date such as
   "11月15号" is no address and stays. `village_of(address)` cuts a whole address field at its village.

Phone and ID patterns follow GB 11643 (ID) and the MIIT numbering plan (mobiles 13x–19x, area codes 0xx/0xxx);
plates GA 36.
"""

import re
from collections.abc import Iterable
from functools import cache

ID_MARK = "[身份证号已隐去]"
PHONE_MARK = "[电话已隐去]"
CARD_MARK = "[银行卡号已隐去]"
PLATE_MARK = "[车牌号已隐去]"
ACCOUNT_MARK = "[已隐去]"

_FOLDED = [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B), 0xFF0B, 0xFF0D]
_FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in _FOLDED})

_DATE8 = r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID_CARD = re.compile(rf"(?<![0-9A-Za-z])[1-9][0-9]{{5}}(?:{_DATE8}[0-9]{{3}}[0-9Xx]|{_DATE6}[0-9]{{3}})"
                      rf"(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?1[3-9][0-9][\s-]?[0-9]{4}[\s-]?[0-9]{4}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?(?:[(（]0[1-9][0-9]{1,2}[)）]\s?|0[1-9][0-9]{1,2}[\s-])"
                       r"[1-9][0-9]{2,3}[\s-]?[0-9]{4}(?:(?:-|转)[0-9]{1,5})?(?![0-9])")
_CARD = re.compile(r"(?<![0-9])(?:[0-9]{16,19}|[0-9]{4}(?:[\s-][0-9]{4}){3}(?:[\s-]?[0-9]{1,3})?)(?![0-9])")
_PLATE = re.compile(r"(?<![A-Za-z0-9])[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Za-z]"
                    r"[\s·.-]?[A-Za-z0-9]{5,6}(?![A-Za-z0-9])")
_ACCOUNT = re.compile(r"((?:微信|[Ww]e[Cc]hat|QQ|qq)(?:号码|号|ID|id)?\s?(?:为|是)?[:：]?\s?)[A-Za-z0-9_-]{5,20}")

COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
                     "夏侯", "令狐", "端木", "南宫", "西门", "独孤", "澹台", "呼延", "申屠", "万俟", "闻人", "轩辕")
# the common single-character surnames (about 95 % of the population), for rule 5
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
            "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅"
            "童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简"
            "车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎"
            "甄丛仲虞敖巩明佘池查麻苑迟邝")
TRIGGERS = ("违法行为人", "法定代表人", "当事人", "经营者", "经营户", "负责人", "驾驶员", "承包人", "举报人", "投诉人",
            "反映人", "联系人", "责任人", "户主", "业主", "房主", "村民", "居民", "法人", "司机", "车主", "租户",
            "摊主", "店主", "犯罪嫌疑人", "嫌疑人", "行为人", "养殖户", "种植户", "商户", "个体户", "住户", "户主",
            "受害人", "被害人", "证人", "见证人", "代理人", "监护人", "申请人", "被申请人", "报告人",
            # family words: the people around a party are persons too
            "妻子", "丈夫", "其妻", "其夫", "爱人", "配偶", "其子", "其女", "儿子", "女儿", "儿媳", "女婿", "母亲",
            "父亲", "其母", "其父", "家属", "亲属", "哥哥", "弟弟", "姐姐", "妹妹", "孙子", "孙女")
# words after a name that are a title, not the name (张建华书记 → 张某书记)
TITLES = ("书记", "主任", "村长", "镇长", "乡长", "县长", "局长", "队长", "所长", "站长", "科长", "股长", "组长",
          "委员", "会计", "经理", "老板", "厂长", "师傅", "同志", "先生", "女士", "干部", "网格员", "民警", "律师")
# characters that make a "given name" before a title an organisation word (党委书记, 常务副镇长, 村委主任)
_ORG = "委副部局所站办会队组科处股村镇乡街区县市省长党支总务正代理事监"
# compound surnames that are no common word, safe to look for anywhere (not 东方, 西门, 南宫, 长孙, 公孙 …)
_SAFE_COMPOUND = ("欧阳", "司马", "诸葛", "上官", "皇甫", "尉迟", "慕容", "夏侯", "令狐", "端木", "澹台", "呼延",
                  "申屠", "万俟", "轩辕", "宇文", "司徒", "独孤", "闻人")
# characters that follow a name in these texts and are (nearly) never part of a given name
_STOPS = ("已于在的等将未对称因被系现拒经均仍也及与和、，。；：,;:（）()是有无向把从到自家户所承诺表示签"
          "拆擅私违不没曾又再即遂按予给缴交补办停整配积申提请说报要当主同反举投驾来去离前后")
_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SURNAMES}])"
_G = f"[\u4e00-\u9fff](?<![{_STOPS}某])"
_GIVEN = f"(?:某某|某|家{_G}|{_G}(?:{_G})?)"
_PERSON = f"({_SURNAME}){_GIVEN}"
_JOIN = "[、和及与]"
_TRIGGERS = "|".join(sorted(TRIGGERS, key=len, reverse=True))
_AFTER_TRIGGER = re.compile(f"((?:{_TRIGGERS})[:：]?\\s?(?:为|是|系)?[:：]?\\s?)({_PERSON}(?:{_JOIN}{_PERSON})*)")
_ONE_PERSON = re.compile(_PERSON)
_GT = f"[\u4e00-\u9fff](?<![{_STOPS}{_ORG}某])"
_BEFORE_TITLE = re.compile(f"{_SURNAME}{_GT}(?:{_GT})?(?=副?(?:{'|'.join(TITLES)}))")
_COMPOUND_ANYWHERE = re.compile(f"(?:{'|'.join(_SAFE_COMPOUND)}){_G}(?:{_G})?")
_HALF_MASKED = re.compile(f"({_SURNAME})某某")

_NUM = "[0-9一二三四五六七八九十百零〇两]+"
_HOUSE = (f"(?:第?{_NUM}\\s?(?:村民小组|小组|组|号楼|号|栋|幢|单元|层|楼|室|户|排)"
          f"|-{_NUM}(?:号|室)?)")
_AFTER_PLACE = re.compile(f"(?<=村|区|街|路|巷|庄|堡|寨|屯|道|家|牌)\\s?(?:{_HOUSE}\\s?)+(?:[0-9]{{1,5}}(?![0-9]))?")
_DOOR_NUMBER = re.compile(f"(?<=门牌)号?[:：]?\\s?{_NUM}号?")
_VILLAGE = re.compile(r"^.*?(?:村(?![镇乡委民])|社区)")


def surname_of(name: str) -> str:
    """The surname of a Chinese name: a compound surname (欧阳) when the name starts with one, else the first
    character."""
    return name[:2] if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else name[:1]


def masked_name(name: str) -> str:
    """张三 → 张某, 欧阳娜娜 → 欧阳某."""
    return surname_of(name) + "某"


def _is_chinese_name(name: str) -> bool:
    return 2 <= len(name) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in name)


def remove_ids(text: str) -> str:
    """Rule 2: ID card numbers (18 or 15 digits with a birth date) → "[身份证号已隐去]"."""
    return _ID_CARD.sub(ID_MARK, text)


def remove_phones(text: str) -> str:
    """Rule 3: mobile and landline numbers (with area code) → "[电话已隐去]"."""
    return _LANDLINE.sub(PHONE_MARK, _MOBILE.sub(PHONE_MARK, text))


def mask_known_names(text: str, names: Iterable[str]) -> str:
    """Rule 4: each Chinese name in `names` (2–4 characters) → surname + 某, longest names first."""
    for name in sorted({n.strip() for n in names if n and _is_chinese_name(n.strip())}, key=len, reverse=True):
        text = text.replace(name, masked_name(name))
    return text


def remove_accounts(text: str) -> str:
    """Rules 3 and 4: bank card numbers (before phones: a card holds phone-like runs), phones, WeChat and QQ
    ids, vehicle plates → a mark."""
    text = remove_phones(_CARD.sub(CARD_MARK, text))
    return _PLATE.sub(PLATE_MARK, _ACCOUNT.sub(lambda m: m.group(1) + ACCOUNT_MARK, text))


def _real_name(name: str) -> bool:
    return _is_chinese_name(name) and "某" not in name


_PLACE_ENDS = "村镇乡县街路庄屯寨堡巷"


def names_by_rule(text: str) -> set[str]:
    """Rule 5b and 5c: the names after 当事人, 村民, 妻子 … (and lists of them), before 书记, 主任 …, and with an
    unambiguous compound surname, as written (not masked)."""
    found = {p.group(0) for m in _AFTER_TRIGGER.finditer(text) for p in _ONE_PERSON.finditer(m.group(2))}
    found |= {m.group(0) for m in _BEFORE_TITLE.finditer(text)}
    found |= {m.group(0) for m in _COMPOUND_ANYWHERE.finditer(text)}
    return {n for n in found if _real_name(n)}


@cache
def _tagger():
    import logging

    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.posseg


def names_by_tagger(text: str) -> set[str]:
    """Rule 5d: the words jieba tags nr (person name), 2–4 characters, starting with a known surname."""
    return {w.word for w in _tagger().cut(text)
            if w.flag == "nr" and _real_name(w.word) and (w.word[:2] in COMPOUND_SURNAMES or w.word[0] in SURNAMES)}


def mask_named_persons(text: str, names: Iterable[str] = ()) -> str:
    """Rules 5 and 6: every occurrence of each name known, found by rule or by the tagger → surname + 某;
    王某某 → 王某."""
    known = [n.strip() for n in names if n and _is_chinese_name(n.strip())]
    text = mask_known_names(text, known)
    found = sorted(names_by_rule(text) | names_by_tagger(text), key=len, reverse=True)
    if found:
        # not a name that is part of a masked one (司马某 → 司马) or of a place (刘胡兰村, 王家庄)
        pattern = re.compile(f"(?:{'|'.join(map(re.escape, found))})(?![某{_PLACE_ENDS}])")
        text = pattern.sub(lambda m: masked_name(m.group(0)), text)
    return _HALF_MASKED.sub(r"\1某", text)


def cut_addresses(text: str) -> str:
    """Rule 7: house-level parts after a village, community, street or road (3组15号, 12号, 2单元301室) removed."""
    return _DOOR_NUMBER.sub("", _AFTER_PLACE.sub("", text))


def village_of(address: str | None) -> str | None:
    """An address field cut to its village or community: everything after the first …村 / …社区 is dropped
    ("文水县凤城镇城关村3组15号" → "文水县凤城镇城关村"); an address with neither keeps what rule 7 leaves of it.
    None and "" pass through."""
    if not address:
        return address
    address = address.translate(_FULL_WIDTH).strip()
    m = _VILLAGE.match(address)
    return m.group(0) if m else cut_addresses(address).strip()


def mask(text: str | None, names: Iterable[str] = ()) -> str | None:
    """`text` with every rule of this module applied, in order (see the module's docstring); `names`: the names
    of people the case knows (reporter, contacts, officers), masked exactly. None and "" pass through."""
    if not text:
        return text
    text = text.translate(_FULL_WIDTH)
    text = remove_accounts(remove_ids(text))
    text = mask_named_persons(text, names)
    return cut_addresses(text)
