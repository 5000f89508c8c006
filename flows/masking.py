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
4. Names known to belong to people of the case (the reporter, the officers, contacts: the `names` argument)
   are replaced exactly, wherever they occur, by surname + 某 (张三 → 张某, 欧阳娜娜 → 欧阳某); two-character
   compound surnames (欧阳, 司马, 诸葛 …) are kept whole. Only names written in Chinese characters (2–4) are
   replaced: an ASCII login name is not a person's name.
5. Names after the words that introduce a person in enforcement texts — 当事人, 户主, 业主, 房主, 村民, 居民,
   经营者, 经营户, 负责人, 法定代表人, 法人, 驾驶员, 司机, 车主, 承包人, 租户, 摊主, 店主, 举报人, 投诉人,
   反映人, 联系人, 违法行为人, 责任人 — become surname + 某: "当事人张三已拆除" → "当事人张某已拆除",
   "村民李四华、王五" → "村民李某、王某". A name here is a common surname (the list below) and one or two more
   characters, stopping before the function characters that follow a name in these texts (已, 于, 在, 的, 等,
   将, 未, 对, 称, 因, 被, 系, 现, 拒 …); a list of names joined by 、 和 及 与 is masked as a whole. This is a
   rule, not a dictionary: a name after none of these words and not given in `names` is left as written.
6. Already half-masked names collapse to the same form: 王某某 → 王某.
7. Addresses are cut to the village or community (村/社区 level): the house-level parts written after a
   village, community, estate, street or road — 3组, 第三村民小组, 15号, 5号楼, 2单元, 301室, 3栋,
   2层, 4排, 6户 — are removed ("凤城镇城关村3组15号" → "凤城镇城关村", "东街12号院内" → "东街院内"). A date such as
   "11月15号" is no address and stays. `village_of(address)` cuts a whole address field at its village.

No maintained Python library masks Chinese personal names by rule (NER models such as those in HanLP or jieba's
POS tags are large, slow and guess); names are therefore masked from what the case itself knows (rule 4) and
from the phrases enforcement texts put before a name (rule 5). Phone and ID patterns follow GB 11643 (ID) and
the MIIT numbering plan (mobiles 13x–19x, area codes 0xx/0xxx).
"""

import re
from collections.abc import Iterable

ID_MARK = "[身份证号已隐去]"
PHONE_MARK = "[电话已隐去]"

_FOLDED = [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B), 0xFF0B, 0xFF0D]
_FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in _FOLDED})

_DATE8 = r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID_CARD = re.compile(rf"(?<![0-9A-Za-z])[1-9][0-9]{{5}}(?:{_DATE8}[0-9]{{3}}[0-9Xx]|{_DATE6}[0-9]{{3}})"
                      rf"(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?1[3-9][0-9][\s-]?[0-9]{4}[\s-]?[0-9]{4}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?(?:[(（]0[1-9][0-9]{1,2}[)）]\s?|0[1-9][0-9]{1,2}[\s-])"
                       r"[1-9][0-9]{2,3}[\s-]?[0-9]{4}(?:(?:-|转)[0-9]{1,5})?(?![0-9])")

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
            "摊主", "店主")
# characters that follow a name in these texts and are (nearly) never part of a given name
_STOPS = ("已于在的等将未对称因被系现拒经均仍也及与和、，。；：,;:（）()是有无向把从到自家户所承诺表示签"
          "拆擅私违不没曾又再即遂按予给缴交补办停整配积申提请说报要当主同反举投驾来去离前后")
_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SURNAMES}])"
_GIVEN = f"(?:某某|某|[\u4e00-\u9fff](?<![{_STOPS}]))(?:[\u4e00-\u9fff](?<![{_STOPS}某]))?"
_PERSON = f"({_SURNAME}){_GIVEN}"
_JOIN = "[、和及与]"
_AFTER_TRIGGER = re.compile(f"((?:{'|'.join(TRIGGERS)})[:：]?\\s?)({_PERSON}(?:{_JOIN}{_PERSON})*)")
_ONE_PERSON = re.compile(_PERSON)
_HALF_MASKED = re.compile(f"({_SURNAME})某某")

_NUM = "[0-9一二三四五六七八九十百零〇两]+"
_HOUSE = (f"(?:第?{_NUM}\\s?(?:村民小组|小组|组|号楼|号|栋|幢|单元|层|楼|室|户|排)"
          f"|-{_NUM}(?:号|室)?)")
_AFTER_PLACE = re.compile(f"(?<=村|区|街|路|巷|庄|堡|寨|屯|道)\\s?(?:{_HOUSE}\\s?)+")
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


def mask_named_persons(text: str) -> str:
    """Rules 5 and 6: names after 当事人, 户主, 村民 … (and lists of them) → surname + 某; 王某某 → 王某."""
    def one(m: re.Match) -> str:
        return m.group(1) + _ONE_PERSON.sub(lambda p: p.group(1) + "某", m.group(2))

    return _HALF_MASKED.sub(r"\1某", _AFTER_TRIGGER.sub(one, text))


def cut_addresses(text: str) -> str:
    """Rule 7: house-level parts after a village, community, street or road (3组15号, 12号, 2单元301室) removed."""
    return _AFTER_PLACE.sub("", text)


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
    text = remove_phones(remove_ids(text))
    text = mask_known_names(text, names)
    text = mask_named_persons(text)
    return cut_addresses(text)
